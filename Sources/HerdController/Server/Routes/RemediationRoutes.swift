import Foundation
import HerdProtocol
import Hummingbird

/// Remediation and the audit log for operators (Controller/README.md §Remediation): proposals and
/// approvals arrive signed by the operators' own keys; the controller checks, stores, relays.
struct RemediationRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.post("/v1/remediations", use: propose)
        router.get("/v1/remediations", use: list)
        router.get("/v1/remediations/:id", use: show)
        router.post("/v1/remediations/:id/approve", use: approve)
        router.post("/v1/remediations/:id/deny", use: deny)
        router.post("/v1/remediations/freeze") { try await setFreeze(true, $0, context: $1) }
        router.post("/v1/remediations/thaw") { try await setFreeze(false, $0, context: $1) }
    }

    /// `POST /v1/remediations/freeze` and `/thaw`: stop all dispatch, or resume it.
    func setFreeze(_ frozen: Bool, _ request: Request, context: HerdRequestContext) async throws -> Response {
        let actor = try context.requireOperator()
        let asked = try await request.operatorBody(OperatorAPI.ReasonRequest.self, expected: "{reason}")
        let state = try await controller.store.setFreeze(
            frozen, reason: asked.reason, by: actor.name, now: controller.clock().timeIntervalSince1970)
        controller.logger.notice(
            frozen ? "remediation frozen" : "remediation thawed",
            metadata: ["by": "\(actor.name)", "reason": "\(asked.reason)"])
        return WireResponse.json(state)
    }

    /// `POST /v1/remediations`
    func propose(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let requester = try context.requireOperator()
        let asked = try await request.operatorBody(
            OperatorAPI.ProposalRequest.self, expected: "{command, preview, incident_id}")
        let detail = try await controller.store.propose(
            asked, by: requester, policy: controller.configuration.remediation,
            now: controller.clock().timeIntervalSince1970)
        return WireResponse.json(detail)
    }

    /// `GET /v1/remediations`
    func list(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let state = request.uri.queryParameters.get("state")
        guard state == nil || state == "open" || state == "all" else {
            throw WireError(.invalidField, "state is open or all")
        }
        return WireResponse.json(
            try await controller.store.remediations(
                openOnly: state == "open", now: controller.clock().timeIntervalSince1970))
    }

    /// `GET /v1/remediations/:id`
    func show(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let id = try Self.remediationID(context)
        guard let detail = try await controller.store.remediation(id: id) else {
            throw WireError(.notFound, "no remediation \(id)")
        }
        return WireResponse.json(detail)
    }

    /// `POST /v1/remediations/:id/approve`
    func approve(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let approver = try context.requireOperator()
        let id = try Self.remediationID(context)
        let approval = try WireCoding.decode(Approval.self, from: try await request.envelopeBytes())
        let remediation = try await controller.store.approve(
            id, approval, by: approver, now: controller.clock().timeIntervalSince1970)
        return WireResponse.json(remediation)
    }

    /// `POST /v1/remediations/:id/deny`
    func deny(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let actor = try context.requireOperator()
        let id = try Self.remediationID(context)
        let asked = try await request.operatorBody(OperatorAPI.ReasonRequest.self, expected: "{reason}")
        return WireResponse.json(
            try await controller.store.deny(
                id, reason: asked.reason, by: actor, now: controller.clock().timeIntervalSince1970))
    }

    static func remediationID(_ context: HerdRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        guard Command.isLowercaseUUID(id) else { throw WireError(.notFound, "no such remediation") }
        return id
    }
}
