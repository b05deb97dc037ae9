import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl patterns`: what is persistent, flapping, recurring or failing under load right now.
struct PatternsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patterns",
        abstract: "Checks with an active pattern now: persistent, flapping, recurring, errors under load.")

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let answer = try await withClient(connection) {
            try await $0.call(.GET, "/v1/patterns", as: OperatorAPI.Patterns.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.patterns.isEmpty {
            emit("no active pattern")
            return
        }
        let rows = answer.patterns.map { row in
            [
                row.instance, row.checkId, row.status, row.patterns.joined(separator: ","),
                Output.sparkline(row.recent), row.troubleSince.map { Output.age($0, now: answer.serverTime) } ?? "-",
                row.summary,
            ]
        }
        emit(
            Output.table(["INSTANCE", "CHECK", "STATUS", "PATTERN", "LAST RESULTS", "IN TROUBLE", "SUMMARY"], rows) {
                row, column, text in column == 2 ? Output.paint(text, state: answer.patterns[row].status) : text
            })
    }
}
