import Foundation
import HerdProtocol
import Hummingbird

/// Agents and their enrollment tokens, for operators (operator certificates only; agents' are refused
/// with `forbidden`). Documented in Controller/README.md.
struct AgentRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/agents", use: list)
        router.post("/v1/agents/:id/accept", use: accept)
        router.post("/v1/agents/:id/revoke", use: revoke)
        router.post("/v1/tokens", use: makeToken)
    }

    /// `GET /v1/agents`
    func list(_ request: Request, context: HerdRequestContext) async throws -> Response {
        var state: AgentState?
        if let value = request.uri.queryParameters.get("state") {
            guard let parsed = AgentState(rawValue: value) else {
                throw WireError(.invalidField, "state is pending, accepted or revoked")
            }
            state = parsed
        }
        let agents = try await controller.store.agents(state: state)
        return WireResponse.json(OperatorAPI.Agents(agents: agents.map(Self.row)))
    }

    /// `POST /v1/agents/:id/accept`
    func accept(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let id = try context.parameters.require("id")
        guard Rule.isIdentifier(id), let agent = try await controller.store.agent(id: id) else {
            throw WireError(.notFound, "no agent \(id)")
        }
        let accepted = try await controller.store.accept(agentID: id, issue: controller.issue(agent.csrPEM))
        controller.logger.notice("agent accepted", metadata: ["agent": "\(id)", "by": "\(record.name)"])
        return WireResponse.json(Self.row(accepted))
    }

    /// `POST /v1/agents/:id/revoke`
    func revoke(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let id = try context.parameters.require("id")
        guard Rule.isIdentifier(id) else { throw WireError(.notFound, "no agent \(id)") }
        let revoked = try await controller.store.revoke(agentID: id)
        controller.logger.notice("agent revoked", metadata: ["agent": "\(id)", "by": "\(record.name)"])
        return WireResponse.json(Self.row(revoked))
    }

    /// `POST /v1/tokens`
    func makeToken(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let asked = try await request.operatorBody(
            OperatorAPI.TokenRequest.self, expected: "{instance, ttl_seconds, auto_accept}")
        guard Rule.isInstanceName(asked.instance) else {
            throw WireError(.invalidField, "instance must be a lowercase DNS name")
        }
        guard (60...(7 * 86_400)).contains(asked.ttlSeconds) else {
            throw WireError(.invalidField, "ttl_seconds must be 60 to 604800")
        }
        let autoAccept = asked.autoAccept ?? controller.configuration.autoAccept
        let now = controller.clock().timeIntervalSince1970
        let token = try await controller.store.createToken(
            instance: asked.instance, ttl: Double(asked.ttlSeconds), autoAccept: autoAccept,
            createdBy: record.id,
            now: now)
        controller.logger.notice(
            "enrollment token made", metadata: ["instance": "\(asked.instance)", "by": "\(record.name)"])
        return WireResponse.json(
            OperatorAPI.Token(
                token: token, instance: asked.instance, expiresAt: (now + Double(asked.ttlSeconds)).instant,
                autoAccept: autoAccept, caFingerprint: controller.ca.fingerprint))
    }

    static func row(_ agent: AgentRecord) -> OperatorAPI.AgentRow {
        OperatorAPI.AgentRow(
            id: agent.id, instance: agent.instance, state: agent.state.rawValue, hostname: agent.hostname,
            role: agent.role.rawValue, agentVersion: agent.agentVersion, signingKeyId: agent.signingKeyID.rawValue,
            certificateFingerprint: agent.certificateFingerprint, requestedAt: agent.requestedAt.instant,
            lastReportAt: agent.lastReportAt?.instant, lastSequence: agent.lastSequence)
    }
}
