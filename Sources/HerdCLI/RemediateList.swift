import ArgumentParser
import Foundation
import HerdProtocol

struct RemediateList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Remediations waiting or running (--all: every one), and the freeze.")
    @Flag(help: "Finished ones too.") var all = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let answer = try await withClient(connection) {
            try await $0.call(.GET, "/v1/remediations?state=\(all ? "all" : "open")", as: OperatorAPI.Remediations.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.freeze.frozen {
            Output.say("FROZEN by \(answer.freeze.by ?? "?"): \(answer.freeze.reason ?? "") — nothing is dispatched\n")
        }
        if answer.remediations.isEmpty { return emit("no remediation") }
        emit(
            Output.table(
                ["ID", "INSTANCE", "ACTION", "STATE", "APPROVALS", "BY", "CREATED"],
                answer.remediations.map {
                    [
                        $0.id, $0.instance, ([$0.action] + $0.parameters).joined(separator: " "), $0.state,
                        "\($0.approvals.count)/\($0.requiredApprovals)", $0.requestedBy, Output.timestamp($0.createdAt),
                    ]
                }))
    }
}
