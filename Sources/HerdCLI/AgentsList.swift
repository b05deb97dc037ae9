import ArgumentParser
import Foundation
import HerdProtocol

struct AgentsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every agent.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let agents = try await withClient(connection) {
            try await $0.call(.GET, "/v1/agents", as: OperatorAPI.Agents.self)
        }
        if connection.json { return try printJSON(agents) }
        AgentsCommand.show(agents.agents, now: HerdctlHarness.date)
    }
}
