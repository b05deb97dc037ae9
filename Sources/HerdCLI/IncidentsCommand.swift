import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl incidents [--open|--state S] [--instance D] [--check ID] [--since 7d] [--limit N] [--before ID]`:
/// incidents, newest first.
struct IncidentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incidents", abstract: "Incidents, newest first: instance and fleet-wide, open and resolved.",
        discussion: """
            Filters combine: --instance takes the instance's own incidents and the fleet incidents it is a \
            member of; --check those holding the check; --since those opened or changed since a duration \
            before now (90m, 7d) or an RFC 3339 instant. At most --limit (1 to 1000, default 100) come at \
            once; when there are more, the last line says the --before that shows the next page.
            """)

    @Flag(help: "Open incidents only (--state open).") var open = false
    @Option(help: "open, resolved or all.") var state: String?
    @Option(
        help: ArgumentHelp("One instance's incidents.", valueName: "domain"),
        completion: .custom { _, _, _ in Completion.instances() })
    var instance: String?
    @Option(help: ArgumentHelp("Incidents holding this check.", valueName: "id")) var check: String?
    @Option(help: ArgumentHelp("Opened or changed since (a duration before now, or an instant).", valueName: "when"))
    var since: String?
    @Option(help: "At most this many (1 to 1000).") var limit = 100
    @Option(
        help: ArgumentHelp("Only incidents older than this one (the next page).", valueName: "id"),
        completion: .custom { _, _, _ in Completion.incidents() })
    var before: Int64?
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let state {
            guard ["open", "resolved", "all"].contains(state) else {
                throw ValidationError("--state is open, resolved or all")
            }
            guard !open else { throw ValidationError("--open is --state open: give one") }
        }
        if let instance, !Rule.isInstanceName(instance) {
            throw ValidationError("--instance must be a lowercase DNS name")
        }
        if let check, !Rule.isStoredCheck(check) {
            throw ValidationError(
                "--check must be a check id such as disk (disk@db-1 for one host of a split instance)")
        }
        if let since { _ = try HistoryCommand.instant(since, "--since", now: Date()) }
        guard (1...1000).contains(limit) else { throw ValidationError("--limit is 1 to 1000") }
        if let before, before < 1 { throw ValidationError("--before is an incident id") }
    }

    func run() async throws {
        var query = "state=\(open ? "open" : state ?? "all")&limit=\(limit)"
        if let instance { query += "&instance=\(instance)" }
        if let check { query += "&check=\(check)" }
        if let since { query += "&since=\(WireTime.format(try HistoryCommand.instant(since, "--since", now: Date())))" }
        if let before { query += "&before=\(before)" }
        let answer = try await withClient(connection) { [query] in
            try await $0.call(.GET, "/v1/incidents?\(query)", as: OperatorAPI.Incidents.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.incidents.isEmpty {
            emit(open || state == "open" ? "no open incident" : "no incident")
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
        if let next = answer.nextBefore { emit("more: herdctl incidents … --before \(next)") }
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
