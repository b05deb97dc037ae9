import Foundation
import HerdProtocol
import Hummingbird

/// The operator API (operator certificates only; agents' are refused with `forbidden`): fleet status,
/// one instance, agents and enrollment tokens. Documented in Controller/README.md.
enum OperatorRoutes {
    static func register(_ router: Router<HerdRequestContext>, _ controller: Controller) {
        router.get("/v1/fleet") { _, context in
            await Routes.answer(controller, "fleet") {
                _ = try await controller.requireOperator(context)
                let now = controller.clock().timeIntervalSince1970
                let rows = try await controller.store.fleetStatus(
                    now: now, silenceIntervals: controller.configuration.silenceIntervals)
                return WireResponse.message(
                    OperatorAPI.Fleet(
                        serverTime: now,
                        instances: rows.map {
                            OperatorAPI.InstanceRow(
                                instance: $0.instance, state: $0.overall.rawValue, failing: $0.failing,
                                warning: $0.warning,
                                lastReportAt: $0.lastReportAt, agentId: $0.agentID, agentVersion: $0.agentVersion)
                        }))
            }
        }

        router.get("/v1/instances/:instance") { _, context in
            await Routes.answer(controller, "instance") {
                _ = try await controller.requireOperator(context)
                let instance = try context.parameters.require("instance")
                guard Rule.isInstanceName(instance) else { throw WireError(.invalidField, "not an instance name") }
                let now = controller.clock().timeIntervalSince1970
                let states = try await controller.store.checkStates(instance: instance)
                guard !states.isEmpty else { throw WireError(.notFound, "no reports from \(instance)") }
                let hours = try await controller.store.hourlyWorst(instance: instance, now: now, hours: 24)
                let lost = try await controller.store.lostReports(instance: instance)
                return WireResponse.json(
                    OperatorAPI.InstanceDetail(
                        instance: instance, serverTime: now,
                        checks: states.map {
                            OperatorAPI.CheckRow(
                                checkId: $0.checkID, status: $0.status.rawValue, since: $0.since, summary: $0.summary,
                                lastAt: $0.lastAt, recent: $0.recent,
                                hours: hours[$0.checkID] ?? String(repeating: "-", count: 24))
                        }, reportsLost: lost?.count ?? 0, reportsLostAt: lost?.lastAt))
            }
        }

        router.get("/v1/agents") { request, context in
            await Routes.answer(controller, "agents") {
                _ = try await controller.requireOperator(context)
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
        }

        router.post("/v1/agents/:id/accept") { _, context in
            await Routes.answer(controller, "accept") {
                let record = try await controller.requireOperator(context)
                let id = try context.parameters.require("id")
                guard Rule.isIdentifier(id), let agent = try await controller.store.agent(id: id) else {
                    throw WireError(.notFound, "no agent \(id)")
                }
                let accepted = try await controller.store.accept(agentID: id, issue: controller.issue(agent.csrPEM))
                controller.logger.notice("agent accepted", metadata: ["agent": "\(id)", "by": "\(record.name)"])
                return WireResponse.json(Self.row(accepted))
            }
        }

        router.post("/v1/agents/:id/revoke") { _, context in
            await Routes.answer(controller, "revoke") {
                let record = try await controller.requireOperator(context)
                let id = try context.parameters.require("id")
                guard Rule.isIdentifier(id) else { throw WireError(.notFound, "no agent \(id)") }
                let revoked = try await controller.store.revoke(agentID: id)
                controller.logger.notice("agent revoked", metadata: ["agent": "\(id)", "by": "\(record.name)"])
                return WireResponse.json(Self.row(revoked))
            }
        }

        router.post("/v1/tokens") { request, context in
            await Routes.answer(controller, "token") {
                let record = try await controller.requireOperator(context)
                let body = try await request.envelopeBytes()
                let asked = try Routes.decode(
                    OperatorAPI.TokenRequest.self, body, expected: "{instance, ttl_seconds, auto_accept}")
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
                        token: token, instance: asked.instance, expiresAt: now + Double(asked.ttlSeconds),
                        autoAccept: autoAccept, caFingerprint: controller.ca.fingerprint))
            }
        }
    }

    static func row(_ agent: AgentRecord) -> OperatorAPI.AgentRow {
        OperatorAPI.AgentRow(
            id: agent.id, instance: agent.instance, state: agent.state.rawValue, hostname: agent.hostname,
            agentVersion: agent.agentVersion, signingKeyId: agent.signingKeyID.rawValue,
            certificateFingerprint: agent.certificateFingerprint, requestedAt: agent.requestedAt,
            lastReportAt: agent.lastReportAt, lastSequence: agent.lastSequence)
    }
}
