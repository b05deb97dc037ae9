import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl status`: the fleet's counts by state, and the instances that are not ok, worst first.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet: counts by state, and each instance that is not ok (--all: every instance).",
        discussion:
            """
            Each row: the instance's state, its failing and warning checks, its last report and agent version, \
            worst first. Without --all the ok instances are only counted, so that the answer stays short \
            at thousands of instances.

            Exit status, for scripts and monitoring (as Nagios plugins use theirs): 0 every instance ok, \
            warning or waiting; 1 some instance critical or silent (its agent missed its reports), or the \
            controller refused the request; 2 a usage error; 3 the controller cannot be reached.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "List every instance, the ok ones too.")
    var all = false

    /// Every state but `ok`: what the table lists without --all.
    static let attention = ["critical", "silent", "unknown", "warning", "waiting"]

    func run() async throws {
        let path = all ? "/v1/fleet" : "/v1/fleet?state=" + Self.attention.joined(separator: ",")
        let fleet = try await withClient(connection) {
            try await $0.call(.GET, path, as: OperatorAPI.Fleet.self)
        }
        if connection.json {
            printJSON(fleet)
        } else {
            if !fleet.instances.isEmpty {
                let rows = fleet.instances.map { row in
                    [
                        row.instance, row.state, row.failing.joined(separator: ","),
                        row.warning.joined(separator: ","),
                        row.lastReportAt.map { Output.age($0, now: fleet.serverTime) } ?? "never",
                        row.agentVersion ?? "-",
                    ]
                }
                emit(
                    Output.table(["INSTANCE", "STATE", "FAILING", "WARNING", "LAST REPORT", "AGENT"], rows) {
                        row, column, text in
                        column == 1 ? Output.paint(text, state: fleet.instances[row].state) : text
                    })
            }
            emit(
                "\(fleet.counts.values.reduce(0, +)) instance(s): "
                    + (Self.attention + ["ok"]).compactMap { state in
                        fleet.counts[state].map { "\($0) \(state)" }
                    }.joined(separator: ", "))
        }
        if ["critical", "silent"].contains(where: { fleet.counts[$0, default: 0] > 0 }) {
            throw ExitCode(HerdctlExit.critical)
        }
    }
}
