import ArgumentParser
import Foundation
import HerdProtocol

struct RemediatePropose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propose",
        abstract: "Propose an action on an instance, signed with your key; shows what will run and its dry run.",
        discussion: """
            Examples:
              herdctl remediate propose social.example restart-service --param service=sidekiq --reason "queues stuck"
              herdctl remediate propose social.example media-remove --param days=7 --reason "disk at 97 %"
            """)

    @Argument(help: "The instance (its domain).", completion: .custom { _, _, _ in Completion.instances() })
    var instance: String
    @Argument(help: "restart-service, media-remove or preview-cards-remove.") var action: String
    @Option(name: .customLong("param"), help: "A parameter, key=value (repeat).") var params: [String] = []
    @Option(help: "Why (one line; shown on the host and in the audit).") var reason: String
    @Option(help: "How long approvals may take before the command expires: 1m to 1h.") var ttl = "10m"
    @Option(help: "The incident this answers.") var incident: Int64?
    @Option(
        help: ArgumentHelp(
            "For an instance split over several hosts: the host to run it on, as its checks name it (db-1 in disk@db-1).",
            valueName: "label"))
    var host: String?
    @Flag(help: "Do not run the action's dry run first.") var noPreview = false
    @Option(help: "How long to wait for the dry run's output: 0s to 10m.") var previewWait = "30s"
    @Flag(name: .shortAndLong, help: "Print only the remediation's id (for scripts).") var quiet = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("\(instance) is not an instance name") }
        _ = try RemediateCommand.action(action, try RemediateCommand.parameters(params))
        _ = try RemediateCommand.ttl(ttl)
        guard (try? Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)) != nil else {
            throw ValidationError("--reason is one line of 1 to \(Limits.maxReasonBytes) bytes")
        }
        if let host, !Rule.isIdentifier(host) { throw ValidationError("--host is a host label such as web-1") }
        if let incident, incident <= 0 { throw ValidationError("an incident number is positive") }
        _ = try RemediateCommand.previewSeconds(previewWait)
        if quiet && connection.json { throw ValidationError("give at most one of --quiet and --json") }
    }

    func run() async throws {
        try await RemediateCommand.propose(
            instance: instance, action: try RemediateCommand.action(action, try RemediateCommand.parameters(params)),
            reason: reason, ttl: try RemediateCommand.ttl(ttl), incident: incident, preview: !noPreview,
            previewWait: try RemediateCommand.previewSeconds(previewWait), host: host, quiet: quiet,
            connection: connection)
    }
}
