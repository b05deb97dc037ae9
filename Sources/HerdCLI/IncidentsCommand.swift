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
            print(open ? "no open incident" : "no incident")
            return
        }
        let rows = answer.incidents.map { incident in
            [
                "#\(incident.id)", incident.severity, incident.state + (incident.acknowledgedBy != nil ? " (ack)" : ""),
                Self.subject(incident), incident.patterns.joined(separator: ","),
                Output.age(answer.serverTime - incident.openedAt),
                incident.diagnosis?.cause ?? "",
            ]
        }
        print(
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

/// `herdctl incident show|ack ID`.
struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident",
        abstract: "One incident: show its timeline and diagnosis, acknowledge it, or propose its remediation.",
        subcommands: [IncidentShow.self, AckCommand.self, IncidentRemediate.self])
}

struct IncidentShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "An incident's timeline, evidence, probable cause, suggested action, members and notifications.")

    @Argument(help: "The incident's number.") var id: Int64
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("an incident number is positive") }
    }

    func run() async throws {
        let detail = try await withClient(connection) {
            try await $0.call(.GET, "/v1/incidents/\(id)", as: OperatorAPI.IncidentDetail.self)
        }
        if connection.json { return try printJSON(detail) }
        let incident = detail.incident
        let now = detail.serverTime
        print(
            "#\(incident.id) \(Output.paint(incident.severity, state: incident.severity)) \(incident.state): \(IncidentsCommand.subject(incident))"
        )
        Output.say("  \(incident.summary)")
        var when = "  opened \(Output.age(now - incident.openedAt)) ago"
        if let resolved = incident.resolvedAt {
            when += ", resolved \(Output.age(now - resolved)) ago (\(incident.resolution ?? "self"))"
        }
        if let by = incident.acknowledgedBy { when += ", acknowledged by \(by)" }
        Output.say(when)
        if incident.checks.count > 1 {
            Output.say(
                "  checks: \(incident.checks.joined(separator: ", ")) (symptoms of the same cause open no incident)")
        }
        if let diagnosis = incident.diagnosis {
            Output.say("\nProbable cause: \(diagnosis.cause)")
            for line in diagnosis.evidence { Output.say("  evidence: \(line)") }
            Output.say("Next step: \(diagnosis.nextStep)")
            if let action = diagnosis.action {
                let parameters = (diagnosis.parameters ?? [:]).sorted { $0.key < $1.key }.map {
                    " --param \($0.key)=\($0.value)"
                }
                Output.say("Suggested remediation: \(action)\(parameters.joined())")
            }
        }
        if !detail.members.isEmpty {
            print("\nMembers (\(detail.members.count)):")
            print(
                Output.table(
                    ["ID", "INSTANCE", "CHECK", "STATE", "SEVERITY"],
                    detail.members.map {
                        ["#\($0.id)", $0.instance ?? "?", $0.checkId ?? "?", $0.state, $0.severity]
                    }))
        }
        print("\nTimeline:")
        for event in detail.timeline {
            Output.say(
                "  \(Output.timestamp(event.at))  \(event.kind)\(event.actor.map { " by \($0)" } ?? ""): \(event.detail)"
            )
        }
        if !detail.notifications.isEmpty {
            Output.say("\nNotifications:")
            for n in detail.notifications {
                Output.say(
                    "  \(n.transition) → \(n.sink): \(n.state)\(n.attempts > 1 ? " after \(n.attempts) attempts" : "")\(n.lastError.map { " (\($0))" } ?? "")"
                )
            }
        }
    }
}

/// `herdctl ack ID` (also `herdctl incident ack ID`): take an incident in hand.
struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack", abstract: "Acknowledge an incident: you are on it (recorded in its timeline and the audit)."
    )

    @Argument(help: "The incident's number.") var id: Int64
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("an incident number is positive") }
    }

    func run() async throws {
        let incident = try await withClient(connection) {
            try await $0.call(.POST, "/v1/incidents/\(id)/ack", body: [], as: OperatorAPI.IncidentRow.self)
        }
        if connection.json { return try printJSON(incident) }
        print("#\(incident.id) acknowledged by \(incident.acknowledgedBy ?? "?")")
    }
}
