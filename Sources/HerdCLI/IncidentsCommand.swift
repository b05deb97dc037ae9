import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl incidents [--open]`: incidents, newest first.
struct IncidentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incidents", abstract: "Incidents, newest first: instance and fleet-wide, open and resolved.")

    @Flag(help: "Open incidents only.") var open = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let answer = try await withClient(connection) {
            try await $0.call(.GET, "/v1/incidents?state=\(open ? "open" : "all")", as: OperatorAPI.Incidents.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.incidents.isEmpty {
            emit(open ? "no open incident" : "no incident")
            return
        }
        let rows = answer.incidents.map { incident in
            [
                "#\(incident.id)", incident.severity, incident.state + (incident.acknowledgedBy != nil ? " (ack)" : ""),
                Self.subject(incident), incident.patterns.joined(separator: ","),
                Output.age(incident.openedAt, now: answer.serverTime),
                incident.diagnosis?.cause ?? "",
            ]
        }
        emit(
            Output.table(["ID", "SEVERITY", "STATE", "WHAT", "PATTERN", "OPENED", "PROBABLE CAUSE"], rows) {
                row, column, text in
                column == 1 && answer.incidents[row].state == "open"
                    ? Output.paint(text, state: answer.incidents[row].severity) : text
            })
    }

    /// `sidekiq on social.example`, `object_storage on 12 instances (object_storage_endpoint=…)`, `… in #7`.
    static func subject(_ incident: OperatorAPI.IncidentRow) -> String {
        if incident.kind == "fleet" {
            let what = incident.subject.split(separator: ":", maxSplits: 1).last.map(String.init) ?? incident.subject
            return "\(what) on \(incident.members) instances (\(incident.group ?? "fleet"))"
        }
        let base = "\(incident.checkId ?? "?") on \(incident.instance ?? "?")"
        return incident.parentId.map { "\(base) in #\($0)" } ?? base
    }
}
