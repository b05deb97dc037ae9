import Foundation
import HerdProtocol
import Testing

@testable import HerdCLI

/// Which agent a remediation goes to: an instance's one agent, or for an instance split over several
/// hosts the one whose role runs the action — the host named, or the one an incident came from.
@Suite struct RemediationTargetTests {
    static func agent(_ id: String, _ instance: String, _ hostname: String, _ role: String, state: String = "accepted")
        -> OperatorAPI.AgentRow
    {
        OperatorAPI.AgentRow(
            id: id, instance: instance, state: state, hostname: hostname, role: role, agentVersion: "0.1.0",
            signingKeyId: String(repeating: "a", count: 64), certificateFingerprint: nil, requestedAt: Date(),
            lastReportAt: nil, lastSequence: nil)
    }

    static let fleet = [
        agent("one", "small.example", "masto-1", "all"),
        agent("old", "big.example", "db-0.example.net", "db", state: "revoked"),
        agent("db", "big.example", "DB-1.fra1.example.net", "db"),
        agent("w1", "big.example", "web-1.fra1.example.net", "web"),
        agent("w2", "big.example", "web-2.fra1.example.net", "web"),
        agent("sk", "big.example", "sidekiq-1", "sidekiq"),
    ]

    static func pick(
        _ action: CommandAction, _ instance: String, host: String? = nil, preferring: [String] = []
    ) -> String {
        do {
            return try RemediateCommand.agent(
                for: action, on: instance, host: host, preferring: preferring, among: fleet
            ).id
        } catch {
            return "error: \(error)"
        }
    }

    @Test func theHostWhoseRoleRunsItIsChosen() {
        let sidekiq = CommandAction.restartService(.sidekiq)
        let web = CommandAction.restartService(.web)
        let media = CommandAction.mediaRemove(.init(days: 7, dryRun: false, pruneProfiles: false, removeHeaders: false))
        #expect(Self.pick(sidekiq, "small.example") == "one")
        #expect(Self.pick(sidekiq, "big.example") == "sk")
        #expect(Self.pick(web, "big.example", host: "web-2") == "w2")
        #expect(Self.pick(web, "big.example", preferring: ["db-1", "web-1"]) == "w1")
        // tootctl runs where Mastodon's code is: three hosts could, so the operator names one, or an
        // incident's host decides.
        #expect(
            Self.pick(media, "big.example") == "error: several hosts of big.example could run media_remove: "
                + "name one with --host (db-1 (db), web-1 (web), web-2 (web), sidekiq-1 (sidekiq))")
        #expect(Self.pick(media, "big.example", preferring: ["db-1", "sidekiq-1"]) == "sk")
        #expect(
            Self.pick(web, "big.example").hasPrefix("error: several hosts of big.example could run restart_service"))
        #expect(
            Self.pick(CommandAction.restartService(.streaming), "big.example")
                == "error: no agent of big.example runs restart_service: its hosts are db-1 (db), web-1 (web), web-2 (web), sidekiq-1 (sidekiq)"
        )
        #expect(
            Self.pick(sidekiq, "big.example", host: "db-0") == "error: no accepted agent for big.example on host db-0")
        #expect(Self.pick(sidekiq, "nobody.example") == "error: no accepted agent for nobody.example")
    }
}
