import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl show INSTANCE`: every check's state, since when, and its last 24 hours.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "One instance: every check's state, summary, since when, and a sparkline of its last 24 hours.")

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The instance's domain.", completion: .custom { _, _, _ in Completion.instances() })
    var instance: String

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("INSTANCE must be a lowercase DNS name") }
    }

    func run() async throws {
        let detail = try await withClient(connection) {
            try await $0.call(.GET, "/v1/instances/\(instance)", as: OperatorAPI.InstanceDetail.self)
        }
        if connection.json { return try printJSON(detail) }
        let rows = detail.checks.map { check in
            [
                check.checkId, check.status, Output.age(check.since, now: detail.serverTime),
                Output.sparkline(check.hours),
                String(check.summary.prefix(100)),
            ]
        }
        emit("\(detail.instance)")
        emit(
            Output.table(["CHECK", "STATE", "SINCE", "24H (HOURLY)", "SUMMARY"], rows) { row, column, text in
                column == 1 ? Output.paint(text, state: detail.checks[row].status) : text
            })
        if detail.reportsLost > 0 {
            let when = detail.reportsLostAt.map {
                ", the last loss reported \(Output.age($0, now: detail.serverTime)) ago"
            }
            emit(
                "The agent lost \(detail.reportsLost) report(s) before it could deliver them\(when ?? "")"
                    + " (its outbox's bounds, or a state dir it could not write: see its log)")
        }
    }
}
