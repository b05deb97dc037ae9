import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl status`: the fleet, worst first.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The fleet: each instance's state, failing and warning checks, last report, agent version.",
        discussion:
            """
            Exit status, for scripts and monitoring (as Nagios plugins use theirs): 0 every instance ok, \
            warning or waiting; 1 some instance critical or silent (its agent missed its reports), or the \
            controller refused the request; 2 a usage error; 3 the controller cannot be reached.
            """
    )

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let fleet = try await withClient(connection) {
            try await $0.call(.GET, "/v1/fleet", as: OperatorAPI.Fleet.self)
        }
        if connection.json {
            printJSON(fleet)
        } else {
            let rows = fleet.instances.map { row in
                [
                    row.instance, row.state, row.failing.joined(separator: ","), row.warning.joined(separator: ","),
                    row.lastReportAt.map { Output.age($0, now: fleet.serverTime) } ?? "never", row.agentVersion ?? "-",
                ]
            }
            emit(
                Output.table(["INSTANCE", "STATE", "FAILING", "WARNING", "LAST REPORT", "AGENT"], rows) {
                    row, column, text in
                    column == 1 ? Output.paint(text, state: fleet.instances[row].state) : text
                })
            let counts = Dictionary(grouping: fleet.instances, by: \.state).mapValues(\.count)
            emit(
                "\(fleet.instances.count) instance(s): "
                    + ["critical", "silent", "unknown", "warning", "waiting", "ok"].compactMap { state in
                        counts[state].map { "\($0) \(state)" }
                    }.joined(separator: ", "))
        }
        if fleet.instances.contains(where: { ["critical", "silent"].contains($0.state) }) {
            throw ExitCode(HerdctlExit.critical)
        }
    }
}
