import Foundation
import HerdProtocol
import Hummingbird

/// Silences and maintenance windows for operators (Controller/README.md, "Silences and maintenance windows").
enum SilenceRoutes {
    static func register(_ router: some RouterMethods<HerdRequestContext>, _ controller: Controller) {
        router.get("/v1/silences") { request, context in
            await Routes.answer(controller, "silences") {
                let now = controller.clock().timeIntervalSince1970
                let silences = try await controller.store.silences(
                    includeEnded: request.uri.queryParameters.get("all") == "true", now: now)
                return WireResponse.json(OperatorAPI.Silences(serverTime: now, silences: silences.map(row)))
            }
        }

        router.post("/v1/silences") { request, context in
            await Routes.answer(controller, "silence") {
                let record = try context.requireOperator()
                let body = try await request.envelopeBytes()
                let asked = try Routes.decode(
                    OperatorAPI.SilenceRequest.self, body,
                    expected: "a silence request {scope, value, starts_at, ends_at, reason}")
                guard let scope = SilenceRecord.Scope(rawValue: asked.scope) else {
                    throw WireError(.invalidField, "scope is instance, check, category or group")
                }
                let now = controller.clock().timeIntervalSince1970
                guard asked.endsAt.isFinite, asked.startsAt?.isFinite ?? true else {
                    throw WireError(.invalidField, "times must be finite")
                }
                let silence = try await controller.store.addSilence(
                    scope: scope, value: asked.value, startsAt: asked.startsAt ?? now, endsAt: asked.endsAt,
                    reason: asked.reason, by: record.name, now: now)
                controller.logger.notice(
                    "silence added",
                    metadata: [
                        "silence": "\(silence.id)", "scope": "\(scope.rawValue) \(asked.value)", "by": "\(record.name)",
                    ])
                return WireResponse.json(row(silence))
            }
        }

        router.post("/v1/silences/:id/expire") { _, context in
            await Routes.answer(controller, "silence expire") {
                let record = try context.requireOperator()
                guard let id = Int64(try context.parameters.require("id")), id > 0 else {
                    throw WireError(.notFound, "no such silence")
                }
                let silence = try await controller.store.expireSilence(
                    id: id, by: record.name, now: controller.clock().timeIntervalSince1970)
                controller.logger.notice("silence expired", metadata: ["silence": "\(id)", "by": "\(record.name)"])
                return WireResponse.json(row(silence))
            }
        }
    }

    static func row(_ silence: SilenceRecord) -> OperatorAPI.Silence {
        OperatorAPI.Silence(
            id: silence.id, scope: silence.scope.rawValue, value: silence.value, startsAt: silence.startsAt,
            endsAt: silence.endsAt, createdBy: silence.createdBy, reason: silence.reason, createdAt: silence.createdAt,
            expiredAt: silence.expiredAt, expiredBy: silence.expiredBy)
    }
}
