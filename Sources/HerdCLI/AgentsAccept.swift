import ArgumentParser
import Foundation
import HerdProtocol

struct AgentsAccept: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accept", abstract: "Accept a pending agent (compare its signing key with the host's first).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The agent's id.") var id: String

    func validate() throws { guard Rule.isIdentifier(id) else { throw ValidationError("not an agent id") } }

    func run() async throws {
        let agent = try await withClient(connection) {
            try await $0.call(.POST, "/v1/agents/\(id)/accept", as: OperatorAPI.AgentRow.self)
        }
        if connection.json { return try printJSON(agent) }
        Output.say(
            "accepted \(agent.id) for \(agent.instance); the agent fetches its certificate with herd-agent enroll")
    }
}
