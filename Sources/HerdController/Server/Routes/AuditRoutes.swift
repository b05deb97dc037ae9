import Foundation
import HerdProtocol
import Hummingbird

/// The audit log and its verification (Controller/README.md, "Audit").
struct AuditRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/audit", use: entries)
        router.get("/v1/audit/verify", use: verify)
    }

    /// `GET /v1/audit`
    func entries(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let after = Int64(request.uri.queryParameters.get("after") ?? "0") ?? -1
        let limit = Int(request.uri.queryParameters.get("limit") ?? "1000") ?? 0
        guard after >= 0, (1...10_000).contains(limit) else {
            throw WireError(.invalidField, "after is a row id ≥ 0, limit 1 to 10000")
        }
        return WireResponse.json(
            OperatorAPI.Audit(entries: try await controller.store.auditEntries(after: after, limit: limit)))
    }

    /// `GET /v1/audit/verify`
    func verify(_ request: Request, context: HerdRequestContext) async throws -> Response {
        return WireResponse.json(try await controller.store.verifyAudit())
    }
}
