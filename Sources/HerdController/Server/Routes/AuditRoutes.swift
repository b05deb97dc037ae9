import Foundation
import HerdProtocol
import Hummingbird

/// The audit log and its verification (Controller/README.md, "Audit").
enum AuditRoutes {
    static func register(_ router: some RouterMethods<HerdRequestContext>, _ controller: Controller) {
        router.get("/v1/audit") { request, context in
            await Routes.answer(controller, "audit") {
                let after = Int64(request.uri.queryParameters.get("after") ?? "0") ?? -1
                let limit = Int(request.uri.queryParameters.get("limit") ?? "1000") ?? 0
                guard after >= 0, (1...10_000).contains(limit) else {
                    throw WireError(.invalidField, "after is a row id ≥ 0, limit 1 to 10000")
                }
                return WireResponse.json(
                    OperatorAPI.Audit(entries: try await controller.store.auditEntries(after: after, limit: limit)))
            }
        }

        router.get("/v1/audit/verify") { _, context in
            await Routes.answer(controller, "audit verification") {
                return WireResponse.json(try await controller.store.verifyAudit())
            }
        }
    }
}
