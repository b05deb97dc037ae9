import ArgumentParser
import Foundation
import HerdProtocol

struct AgentsRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke an agent: every later request with its certificate is refused.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The agent's id.") var id: String

    func validate() throws { guard Rule.isIdentifier(id) else { throw ValidationError("not an agent id") } }

    func run() async throws {
        let agent = try await withClient(connection) {
            try await $0.call(.POST, "/v1/agents/\(id)/revoke", as: OperatorAPI.AgentRow.self)
        }
        if connection.json { return try printJSON(agent) }
        Output.say("revoked \(agent.id) (\(agent.instance))")
    }
}
