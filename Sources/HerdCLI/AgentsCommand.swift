import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl agents …`: enrolled and pending agents, accepting, revoking, enrollment tokens.
struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Agents: list, pending, accept, revoke, token.",
        subcommands: [AgentsList.self, AgentsPending.self, AgentsAccept.self, AgentsRevoke.self, AgentsToken.self])

    static func show(_ agents: [OperatorAPI.AgentRow], now: Date) {
        let rows = agents.map { agent in
            [
                agent.id, agent.instance, agent.state, agent.hostname, agent.role,
                String(agent.signingKeyId.prefix(16)),
                agent.lastReportAt.map { Output.age($0, now: now) } ?? "never", agent.agentVersion,
            ]
        }
        emit(Output.table(["ID", "INSTANCE", "STATE", "HOST", "ROLE", "SIGNING KEY", "LAST REPORT", "VERSION"], rows))
    }
}
