import Foundation
import HerdProtocol
import Hummingbird

/// Remediation and the audit log for operators (Controller/README.md §Remediation): proposals and
/// approvals arrive signed by the operators' own keys; the controller checks, stores, relays.
enum RemediationRoutes {
    static func register(_ router: some RouterMethods<HerdRequestContext>, _ controller: Controller) {
        router.post("/v1/remediations") { request, context in
            await Routes.answer(controller, "remediation proposal") {
                let requester = try context.requireOperator()
                let asked: OperatorAPI.ProposalRequest = try await decode(request)
                let detail = try await controller.store.propose(
                    asked, by: requester, policy: controller.configuration.remediation,
                    now: controller.clock().timeIntervalSince1970)
                wakeIfApproved(controller, detail.remediation)
                if let preview = detail.preview { wakeIfApproved(controller, preview) }
                return WireResponse.json(detail)
            }
        }

        router.get("/v1/remediations") { request, context in
            await Routes.answer(controller, "remediations") {
                let state = request.uri.queryParameters.get("state")
                guard state == nil || state == "open" || state == "all" else {
                    throw WireError(.invalidField, "state is open or all")
                }
                return WireResponse.json(
                    try await controller.store.remediations(
                        openOnly: state == "open", now: controller.clock().timeIntervalSince1970))
            }
        }

        router.get("/v1/remediations/:id") { _, context in
            await Routes.answer(controller, "remediation") {
                let id = try remediationID(context)
                guard let detail = try await controller.store.remediation(id: id) else {
                    throw WireError(.notFound, "no remediation \(id)")
                }
                return WireResponse.json(detail)
            }
        }

        router.post("/v1/remediations/:id/approve") { request, context in
            await Routes.answer(controller, "remediation approval") {
                let approver = try context.requireOperator()
                let id = try remediationID(context)
                let approval = try WireCoding.decode(Approval.self, from: try await request.envelopeBytes())
                let remediation = try await controller.store.approve(
                    id, approval, by: approver, now: controller.clock().timeIntervalSince1970)
                wakeIfApproved(controller, remediation)
                return WireResponse.json(remediation)
            }
        }

        router.post("/v1/remediations/:id/deny") { request, context in
            await Routes.answer(controller, "remediation denial") {
                let actor = try context.requireOperator()
                let id = try remediationID(context)
                let asked: OperatorAPI.ReasonRequest = try await decode(request)
                return WireResponse.json(
                    try await controller.store.deny(
                        id, reason: asked.reason, by: actor, now: controller.clock().timeIntervalSince1970))
            }
        }

        for (path, frozen) in [("/v1/remediations/freeze", true), ("/v1/remediations/thaw", false)] {
            router.post(RouterPath(path)) { request, context in
                await Routes.answer(controller, frozen ? "remediation freeze" : "remediation thaw") {
                    let actor = try context.requireOperator()
                    let asked: OperatorAPI.ReasonRequest = try await decode(request)
                    let state = try await controller.store.setFreeze(
                        frozen, reason: asked.reason, by: actor.name, now: controller.clock().timeIntervalSince1970)
                    if !frozen { controller.relay.wakeAll() }
                    controller.logger.notice(
                        frozen ? "remediation frozen" : "remediation thawed",
                        metadata: ["by": "\(actor.name)", "reason": "\(asked.reason)"])
                    return WireResponse.json(state)
                }
            }
        }

    }

    static func wakeIfApproved(_ controller: Controller, _ remediation: OperatorAPI.Remediation) {
        if remediation.state == "approved" { controller.relay.wake(agentID: remediation.agentId) }
    }

    static func remediationID(_ context: HerdRequestContext) throws -> String {
        let id = try context.parameters.require("id")
        guard Command.isLowercaseUUID(id) else { throw WireError(.notFound, "no such remediation") }
        return id
    }

    static func decode<T: Decodable>(_ request: Request) async throws -> T {
        try Routes.decode(
            T.self, try await request.envelopeBytes(), expected: "a \(T.self) body (Controller/README.md)")
    }
}
