import ArgumentParser
import Foundation
import HerdProtocol

struct IncidentShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "An incident's timeline, evidence, probable cause, suggested action, members and notifications.")

    @Argument(help: "The incident's number.", completion: .custom { _, _, _ in Completion.incidents() }) var id: Int64
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
        emit(
            "#\(incident.id) \(Output.paint(incident.severity, state: incident.severity)) \(incident.state): \(IncidentsCommand.subject(incident))"
        )
        Output.say("  \(incident.summary)")
        var when = "  opened \(Output.age(incident.openedAt, now: now)) ago"
        if let resolved = incident.resolvedAt {
            when += ", resolved \(Output.age(resolved, now: now)) ago (\(incident.resolution ?? "self"))"
        }
        if let by = incident.acknowledgedBy { when += ", acknowledged by \(by)" }
        Output.say(when)
        if incident.checks.count > 1 {
            Output.say(
                "  checks: \(incident.checks.joined(separator: ", ")) (symptoms of the same cause open no incident)")
        }
        if let diagnosis = incident.diagnosis {
            emit()
            Output.say("Probable cause: \(diagnosis.cause)")
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
            emit("\nMembers (\(detail.members.count)):")
            emit(
                Output.table(
                    ["ID", "INSTANCE", "CHECK", "STATE", "SEVERITY"],
                    detail.members.map {
                        ["#\($0.id)", $0.instance ?? "?", $0.checkId ?? "?", $0.state, $0.severity]
                    }))
        }
        emit("\nTimeline:")
        for event in detail.timeline {
            Output.say(
                "  \(Output.timestamp(event.at))  \(event.kind)\(event.actor.map { " by \($0)" } ?? ""): \(event.detail)"
            )
        }
        if !detail.notifications.isEmpty {
            emit()
            Output.say("Notifications:")
            for n in detail.notifications {
                Output.say(
                    "  \(n.transition) → \(n.sink): \(n.state)\(n.attempts > 1 ? " after \(n.attempts) attempts" : "")\(n.lastError.map { " (\($0))" } ?? "")"
                )
            }
        }
    }
}
