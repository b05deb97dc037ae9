import ArgumentParser
import Foundation
import HerdProtocol

struct SilenceAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Silence an instance, a check, an error category or a group, now or later (a maintenance window).",
        discussion: """
            Exactly one of --instance, --check, --category, --group. Examples:
              herdctl silence add --instance social.example --for 2h --reason "PostgreSQL upgrade"
              herdctl silence add --group object_storage_endpoint=s3.example.net --for 1h --reason "provider incident"
              herdctl silence add --check mastodon.api_probe --starts-in 12h --for 1h --reason "token rotation"
            """)

    @Option(help: "An instance (its domain).") var instance: String?
    @Option(help: "A check id, on every instance.") var check: String?
    @Option(help: "An error category, on every instance.") var category: String?
    @Option(
        help:
            "ATTRIBUTE=VALUE: every instance sharing it (object_storage_endpoint, provider, region, mastodon_version, tag.NAME)."
    )
    var group: String?
    @Option(name: .customLong("for"), help: "How long: 30m, 2h, 1d.") var length: String
    @Option(help: "Start later (a maintenance window): 30m, 12h.") var startsIn: String?
    @Option(help: "Why (one line, shown in incidents and the audit).") var reason: String
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        let scopes = [instance, check, category, group].compactMap { $0 }
        guard scopes.count == 1 else {
            throw ValidationError("give exactly one of --instance, --check, --category, --group")
        }
        _ = try SilenceCommand.duration(length, "--for")
        if let startsIn { _ = try SilenceCommand.duration(startsIn, "--starts-in") }
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--reason is required")
        }
    }

    func run() async throws {
        let (scope, value): (String, String) =
            if let instance { ("instance", instance) } else if let check { ("check", check) } else if let category {
                ("category", category)
            } else { ("group", group ?? "") }
        let now = HerdctlHarness.date
        let starts = now.addingTimeInterval(try startsIn.map { try SilenceCommand.duration($0, "--starts-in") } ?? 0)
        let request = OperatorAPI.SilenceRequest(
            scope: scope, value: value, startsAt: startsIn == nil ? nil : starts,
            endsAt: starts.addingTimeInterval(try SilenceCommand.duration(length, "--for")), reason: reason)
        let silence = try await withClient(connection) {
            try await $0.call(
                .POST, "/v1/silences", body: try JSONCodable.encode(request),
                as: OperatorAPI.Silence.self)
        }
        if connection.json { return try printJSON(silence) }
        emit("silence #\(silence.id): \(silence.scope) \(silence.value) until \(Output.timestamp(silence.endsAt))")
    }
}
