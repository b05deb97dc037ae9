import ArgumentParser
import Foundation
import HerdProtocol

struct AgentsPending: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending",
        abstract: "Enrollments waiting for `herdctl agents accept`, with their key fingerprints.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let agents = try await withClient(connection) {
            try await $0.call(.GET, "/v1/agents?state=pending", as: OperatorAPI.Agents.self)
        }
        if connection.json { return try printJSON(agents) }
        for agent in agents.agents {
            Output.say("\(agent.id)  \(agent.instance)  host \(agent.hostname)  agent \(agent.agentVersion)")
            Output.say("  signing key \(agent.signingKeyId)")
        }
        if agents.agents.isEmpty { emit("no pending enrollment") }
    }
}
