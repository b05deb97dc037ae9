import Foundation
import HerdProtocol
import Hummingbird

/// Silences and maintenance windows for operators (Controller/README.md, "Silences and maintenance windows").
struct SilenceRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/silences", use: list)
        router.post("/v1/silences", use: add)
        router.post("/v1/silences/:id/expire", use: expire)
    }

    /// `GET /v1/silences`
    func list(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let now = controller.clock().timeIntervalSince1970
        let silences = try await controller.store.silences(
            includeEnded: request.uri.queryParameters.get("all") == "true", now: now)
        return WireResponse.json(OperatorAPI.Silences(serverTime: now.instant, silences: silences.map(Self.row)))
    }

    /// `POST /v1/silences`
    func add(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let asked = try await request.operatorBody(
            OperatorAPI.SilenceRequest.self,
            expected: "a silence request {scope, value, starts_at, ends_at, reason}")
        guard let scope = SilenceRecord.Scope(rawValue: asked.scope) else {
            throw WireError(.invalidField, "scope is instance, check, category or group")
        }
        let now = controller.clock().timeIntervalSince1970
        let silence = try await controller.store.addSilence(
            scope: scope, value: asked.value, startsAt: asked.startsAt?.timeIntervalSince1970 ?? now,
            endsAt: asked.endsAt.timeIntervalSince1970,
            reason: asked.reason, by: record.name, now: now)
        controller.logger.notice(
            "silence added",
            metadata: [
                "silence": "\(silence.id)", "scope": "\(scope.rawValue) \(asked.value)", "by": "\(record.name)",
            ])
        return WireResponse.json(Self.row(silence))
    }

    /// `POST /v1/silences/:id/expire`
    func expire(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        guard let id = Int64(try context.parameters.require("id")), id > 0 else {
            throw WireError(.notFound, "no such silence")
        }
        let silence = try await controller.store.expireSilence(
            id: id, by: record.name, now: controller.clock().timeIntervalSince1970)
        controller.logger.notice("silence expired", metadata: ["silence": "\(id)", "by": "\(record.name)"])
        return WireResponse.json(Self.row(silence))
    }

    static func row(_ silence: SilenceRecord) -> OperatorAPI.Silence {
        OperatorAPI.Silence(
            id: silence.id, scope: silence.scope.rawValue, value: silence.value, startsAt: silence.startsAt.instant,
            endsAt: silence.endsAt.instant, createdBy: silence.createdBy, reason: silence.reason,
            createdAt: silence.createdAt.instant,
            expiredAt: silence.expiredAt?.instant, expiredBy: silence.expiredBy)
    }
}
