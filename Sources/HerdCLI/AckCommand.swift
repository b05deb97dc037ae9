import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl ack ID` (also `herdctl incident ack ID`): take an incident in hand.
struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack", abstract: "Acknowledge an incident: you are on it (recorded in its timeline and the audit)."
    )

    @Argument(help: "The incident's number.", completion: .custom { _, _, _ in Completion.incidents() }) var id: Int64
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("an incident number is positive") }
    }

    func run() async throws {
        let incident = try await withClient(connection) {
            try await $0.call(.POST, "/v1/incidents/\(id)/ack", body: [], as: OperatorAPI.IncidentRow.self)
        }
        if connection.json { return try printJSON(incident) }
        emit("#\(incident.id) acknowledged by \(incident.acknowledgedBy ?? "?")")
    }
}
