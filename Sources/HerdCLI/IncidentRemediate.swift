import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl incident remediate ID`: propose the action the incident's diagnosis suggests.
struct IncidentRemediate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remediate", abstract: "Propose the remediation an incident's diagnosis suggests.")
    @Argument(help: "The incident's number.", completion: .custom { _, _, _ in Completion.incidents() }) var id: Int64
    @Option(help: "Why (default: the incident's probable cause).") var reason: String?
    @Option(help: "How long approvals may take: 1m to 1h.") var ttl = "10m"
    @Option(help: "How long to wait for the dry run's output: 0s to 10m.") var previewWait = "30s"
    @Flag(name: .shortAndLong, help: "Print only the remediation's id (for scripts).") var quiet = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("an incident number is positive") }
        _ = try RemediateCommand.ttl(ttl)
        _ = try RemediateCommand.previewSeconds(previewWait)
        if quiet && connection.json { throw ValidationError("give at most one of --quiet and --json") }
    }

    func run() async throws {
        let detail = try await withClient(connection) {
            try await $0.call(.GET, "/v1/incidents/\(id)", as: OperatorAPI.IncidentDetail.self)
        }
        guard let instance = detail.incident.instance, let diagnosis = detail.incident.diagnosis,
            let name = diagnosis.action
        else {
            throw HerdctlError(
                description: "incident #\(id) has no suggested remediation (see herdctl incident show \(id))",
                status: HerdctlExit.failed)
        }
        let action: CommandAction
        do {
            action = try CommandAction(name: name, parameters: diagnosis.parameters ?? [:])
        } catch {
            throw HerdctlError(description: "suggested \(name): \(error.message)", status: HerdctlExit.failed)
        }
        let why = String((reason ?? "incident #\(id): \(diagnosis.cause)").prefix(400))
        try await RemediateCommand.propose(
            instance: instance, action: action, reason: why, ttl: try RemediateCommand.ttl(ttl), incident: id,
            preview: true, previewWait: try RemediateCommand.previewSeconds(previewWait),
            // A split instance: the host where the incident's checks failed, if it can run the action.
            preferring: detail.incident.checks.compactMap { check in
                check.firstIndex(of: "@").map { String(check[check.index(after: $0)...]) }
            },
            quiet: quiet, connection: connection)
    }
}
