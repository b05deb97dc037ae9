import Crypto
import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// The agent's side of remediation: the gate's rules in their order, each refusal proven not to run
/// anything (the recording systemctl's log stays empty), the ledger surviving a restart, the host's
/// policy files refused when anyone but root could change them, and a real run with its verification.
@Suite(.serialized) struct RemediationTests {
    static let alice = Curve25519.Signing.PrivateKey()  // the requester
    static let bob = Curve25519.Signing.PrivateKey()
    static let carol = Curve25519.Signing.PrivateKey()
    static let mallory = Curve25519.Signing.PrivateKey()  // in no trust file

    static let allowlist = """
        restart_service = web, sidekiq, streaming
        restart_service.limit = 3/1h
        media_remove.days = 7-30
        media_remove.limit = 2/1d

        """

    static func trust(_ extra: String = "") -> String {
        """
        operator.alice = \(Base64.encode(alice.publicKey.rawRepresentation))
        operator.bob = \(Base64.encode(bob.publicKey.rawRepresentation))
        operator.carol = \(Base64.encode(carol.publicKey.rawRepresentation))
        approvals.routine = 1
        approvals.destructive = 2
        \(extra)
        """
    }

    /// A host: fixture tree (sidekiq dead), policy files, ledger, outbox, executor.
    final class Host: @unchecked Sendable {
        let fixture: FixtureHost
        let policy: TemporaryDirectory
        let configuration: AgentConfiguration
        let outbox: Outbox
        var gate: CommandGate
        let executor: RemediationExecutor
        var calls: String { fixture.source + "/systemd/calls.log" }

        init(trust: String = RemediationTests.trust()) async throws {
            fixture = try FixtureHost("sidekiq-dead")
            policy = try TemporaryDirectory("herd-policy")
            try policy.write("allowlist.conf", RemediationTests.allowlist)
            try policy.write("trust.conf", trust)
            chmod(policy.file("allowlist.conf"), 0o644)
            chmod(policy.file("trust.conf"), 0o644)
            var configuration = try fixture.configuration()
            configuration.remediationAllowlist = policy.file("allowlist.conf")
            configuration.remediationTrust = policy.file("trust.conf")
            self.configuration = configuration
            outbox = try Outbox(stateDirectory: configuration.stateDirectory)
            gate = try Self.gate(configuration)
            let runner = try fixture.runner(configuration)
            executor = RemediationExecutor(
                gate: gate, configuration: configuration, host: try fixture.surfaces(configuration), runner: runner,
                outbox: outbox, logger: .init(label: "test"), notify: {})
            await executor.setVerificationPauses([.milliseconds(10)])
        }

        static func gate(_ configuration: AgentConfiguration) throws -> CommandGate {
            let (allowlist, trust) = (configuration.remediationAllowlist, configuration.remediationTrust)
            return CommandGate(
                agentID: "agent-1", instance: "social.example",
                ledger: try CommandLedger(stateDirectory: configuration.stateDirectory),
                policy: { () throws(HostPolicyError) in
                    // The test runs as root: the files are root's, as on a real host.
                    try HostPolicy.load(allowlist: allowlist, trust: trust)
                })
        }

        func results() -> [CommandResult] {
            var found: [CommandResult] = []
            while let message = outbox.oldest() {
                if case .result(let result) = message { found.append(result) }
                outbox.remove(message.sequence)
            }
            return found
        }

        func ran() -> [String] {
            ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        deinit {
            fixture.remove()
            policy.remove()
        }
    }

    static func command(
        _ action: CommandAction = .restartService(.sidekiq), agent: String = "agent-1",
        id: String = UUID().uuidString.lowercased(),
        issued: Date = Date(), ttl: Double = 300
    ) -> Command {
        Command(
            id: id, agentID: agent, instance: "social.example", action: action, reason: "queues stuck",
            requestedBy: KeyID(publicKey: alice.publicKey), issuedAt: issued, expiresAt: issued.addingTimeInterval(ttl))
    }

    static func envelope(_ command: Command, signedBy keys: [Curve25519.Signing.PrivateKey]) throws -> SignedEnvelope {
        let payload = WireCoding.encode(command)
        return SignedEnvelope(
            payload: payload, payloadType: .command,
            signatures: try keys.map {
                try MessageSigner(privateKey: $0).signature(payloadType: .command, payload: payload)
            })
    }

    @Test func anApprovedRestartRunsOnceVerifiesAndReports() async throws {
        let host = try await Host()
        let command = Self.command()
        let envelope = try Self.envelope(command, signedBy: [Self.alice, Self.bob])
        await host.executor.handle([envelope])
        #expect(host.ran() == ["restart -- mastodon-sidekiq.service user=root RAILS_ENV="])
        let results = host.results()
        let result = try #require(results.first)
        #expect(result.outcome == .succeeded && result.exitCode == 0 && result.commandID == command.id)
        // Sidekiq is back; the services check is still critical, for streaming is down too — said so.
        #expect(result.verification.map(\.checkID) == ["services"])
        #expect(result.verification.first?.metrics["mastodon-sidekiq.active"] == 1)
        #expect(result.verification.first?.status == .critical, "\(result.verification)")
        #expect(result.detail.contains("verification not OK (services critical)"), "\(result.detail)")
        let streaming = Self.command(.restartService(.streaming))
        await host.executor.handle([try Self.envelope(streaming, signedBy: [Self.alice, Self.carol])])
        let healed = try #require(host.results().first)
        #expect(healed.outcome == .succeeded && healed.verification.first?.status == .ok, "\(healed.detail)")
        #expect(healed.detail.hasSuffix("verification OK (services ok)"), "\(healed.detail)")
        // The same envelope again — and again after a restart of the agent (a new ledger from disk).
        await host.executor.handle([envelope])
        #expect(host.results().first?.refusal == .replayed)
        let restarted = try Host.gate(host.configuration)
        guard case .refuse(_, .replayed, _) = restarted.decide(envelope, now: Date()) else {
            Issue.record("a replay after a restart was not refused")
            return
        }
        #expect(host.ran().count == 2)
    }

    @Test func everyRuleRefusesInItsOrderAndNothingRuns() async throws {
        let host = try await Host()
        var tampered = try Self.envelope(Self.command(), signedBy: [Self.alice, Self.bob])
        // Same signatures, other parameter bytes: web instead of sidekiq.
        tampered.payload = Array(
            String(decoding: tampered.payload, as: UTF8.self).replacingOccurrences(of: "sidekiq", with: "web").utf8)
        let cases: [(String, SignedEnvelope, CommandResult.Refusal)] = [
            ("unsigned", try Self.envelope(Self.command(), signedBy: []), .insufficientApprovals),
            ("only the requester", try Self.envelope(Self.command(), signedBy: [Self.alice]), .insufficientApprovals),
            (
                "self-approval", try Self.envelope(Self.command(), signedBy: [Self.alice, Self.alice]),
                .insufficientApprovals
            ),
            (
                "an unknown key", try Self.envelope(Self.command(), signedBy: [Self.alice, Self.mallory]),
                .insufficientApprovals
            ),
            (
                "requester unknown", try Self.envelope(Self.command(), signedBy: [Self.mallory, Self.bob]),
                .insufficientApprovals
            ),
            ("tampered parameters", tampered, .insufficientApprovals),
            (
                "one approval where two are needed",
                try Self.envelope(Self.command(.mediaRemove(.init(days: 7))), signedBy: [Self.alice, Self.bob]),
                .insufficientApprovals
            ),
            (
                "another agent's command",
                try Self.envelope(Self.command(agent: "agent-2"), signedBy: [Self.alice, Self.bob]), .wrongAgent
            ),
            (
                "expired",
                try Self.envelope(
                    Self.command(issued: Date().addingTimeInterval(-400)), signedBy: [Self.alice, Self.bob]),
                .expired
            ),
            (
                "valid longer than the host allows",
                try Self.envelope(Self.command(ttl: 3600), signedBy: [Self.alice, Self.bob]), .expired
            ),
            (
                "not in the allowlist",
                try Self.envelope(Self.command(.restartService(.nginx)), signedBy: [Self.alice, Self.bob]), .notAllowed
            ),
            (
                "parameter outside the host's range",
                try Self.envelope(
                    Self.command(.mediaRemove(.init(days: 90))), signedBy: [Self.alice, Self.bob, Self.carol]),
                .notAllowed
            ),
            (
                "a flag the host does not allow",
                try Self.envelope(
                    Self.command(.mediaRemove(.init(days: 7, pruneProfiles: true))),
                    signedBy: [Self.alice, Self.bob, Self.carol]), .notAllowed
            ),
        ]
        for (name, envelope, refusal) in cases {
            await host.executor.handle([envelope])
            let results = host.results()
            #expect(results.count == 1, "\(name)")
            #expect(results.first?.outcome == .refused, "\(name)")
            #expect(results.first?.refusal == refusal, "\(name): \(results.first?.detail ?? "no result")")
        }
        #expect(host.ran().isEmpty, "a refused command ran: \(host.ran())")
        // Not a command at all: dropped (nothing to answer), nothing run.
        await host.executor.handle([
            SignedEnvelope(payload: Array("garbage".utf8), payloadType: .command, signatures: [])
        ])
        #expect(host.results().isEmpty && host.ran().isEmpty)
    }

    @Test func theRateLimitStopsTheFourthRestartAndSaysEscalate() async throws {
        let host = try await Host()
        for _ in 0..<4 {
            await host.executor.handle([try Self.envelope(Self.command(), signedBy: [Self.alice, Self.carol])])
        }
        let results = host.results()
        #expect(results.map(\.outcome) == [.succeeded, .succeeded, .succeeded, .refused])
        #expect(results.last?.refusal == .rateLimited)
        #expect(results.last?.detail.contains("escalate to a human") == true)
        #expect(host.ran().count == 3)
    }

    @Test func policyFilesAnyoneButRootCouldChangeAreRefused() async throws {
        let host = try await Host()
        let envelope = { try Self.envelope(Self.command(), signedBy: [Self.alice, Self.bob]) }
        chmod(host.policy.file("allowlist.conf"), 0o666)
        await host.executor.handle([try envelope()])
        #expect(host.results().first?.detail.contains("writable by its group or by others") == true)
        chmod(host.policy.file("allowlist.conf"), 0o644)
        chown(host.policy.file("trust.conf"), 65534, 65534)
        await host.executor.handle([try envelope()])
        #expect(host.results().first?.detail.contains("must belong to root") == true)
        chown(host.policy.file("trust.conf"), 0, 0)
        try host.policy.write("trust.conf", Self.trust("approvals.routine = seven"))
        chmod(host.policy.file("trust.conf"), 0o644)
        await host.executor.handle([try envelope()])
        #expect(host.results().first?.refusal == .notAllowed)
        #expect(host.ran().isEmpty)
        // Fixed by root: the next command runs, without restarting the agent.
        try host.policy.write("trust.conf", Self.trust())
        chmod(host.policy.file("trust.conf"), 0o644)
        await host.executor.handle([try envelope()])
        #expect(host.results().first?.outcome == .succeeded)
    }

    @Test func aTootctlActionRunsThroughTheTemplateUnitAsItsHelper() async throws {
        let host = try await Host()
        // The template unit's ExecStart, as the systemctl stand-in runs it: herd-agent tootctl SPEC in the
        // live directory, where a recording bin/tootctl answers like Mastodon's.
        let live = host.fixture.temporary.file("live")
        try FileManager.default.createDirectory(atPath: live + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: FixtureHost.standins + "/mastodon/tootctl", toPath: live + "/bin/tootctl")
        try BuiltProduct.path("herd-agent").write(
            toFile: host.fixture.source + "/systemd/herd-tootctl.exec", atomically: true, encoding: .utf8)
        try live.write(toFile: host.fixture.source + "/systemd/herd-tootctl.live", atomically: true, encoding: .utf8)
        let command = Self.command(.mediaRemove(.init(days: 7, dryRun: true)))
        await host.executor.handle([try Self.envelope(command, signedBy: [Self.alice])])  // a dry run: preview risk
        #expect(host.ran() == ["start --wait -- herd-tootctl@media-remove-7-dry-run.service user=root RAILS_ENV="])
        let calls = try String(contentsOfFile: live + "/tootctl-calls.log", encoding: .utf8)
        #expect(
            calls == "media remove --days 7 --dry-run user=root RAILS_ENV=production cwd=\(Self.clean(live))\n")
        #expect(host.results().first?.outcome == .succeeded)
    }

    /// The examples in Agent/ are what the README says: they parse, and mean what their comments say.
    @Test func theExamplePolicyFilesParse() throws {
        let allowlist = try Allowlist.parse(
            try String(contentsOfFile: RepositoryPaths.path("Agent/allowlist.conf.example"), encoding: .utf8),
            source: "allowlist.conf.example")
        #expect(allowlist.services == [.web, .sidekiq, .streaming, .nginx])
        #expect(allowlist.refusal(for: .mediaRemove(.init(days: 7))) == nil)
        #expect(allowlist.refusal(for: .mediaRemove(.init(days: 7, pruneProfiles: true))) != nil)
        #expect(allowlist.limits["restart_service"] == RateLimit(count: 3, window: 3600))
        let trust = try TrustList.parse(
            try String(contentsOfFile: RepositoryPaths.path("Agent/trust.conf.example"), encoding: .utf8),
            source: "trust.conf.example")
        #expect(Set(trust.names.values) == ["alice", "bob"] && trust.maxTTL == 600)
        #expect(trust.approvals == [.preview: 0, .routine: 1, .destructive: 2])
        for bad in [
            "restart_service = web, postgres", "media_remove.days = 0-400", "dry_run.limit = 3/1y", "flush = all",
        ] {
            #expect(throws: HostPolicyError.self, "\(bad)") { try Allowlist.parse(bad, source: "x") }
        }
        for bad in ["operator.eve = bm90IGEga2V5", "approvals.routine = 0", "max_ttl = 2h", "operator.Bad Name = x"] {
            #expect(throws: HostPolicyError.self, "\(bad)") { try TrustList.parse(bad, source: "x") }
        }
    }

    /// `pwd` prints the path without the doubled slash a `TMPDIR` ending in `/` leaves.
    static func clean(_ path: String) -> String { path.replacingOccurrences(of: "//", with: "/") }

    @Test func theTootctlHelperRunsOnlyCatalogueSpecs() throws {
        let live = try TemporaryDirectory("herd-live")
        defer { live.remove() }
        try FileManager.default.createDirectory(atPath: live.file("bin"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: FixtureHost.standins + "/mastodon/tootctl", toPath: live.file("bin/tootctl"))
        func helper(_ spec: String) throws -> (Int32, String) {
            try BuiltProduct.run("herd-agent", ["tootctl", spec, "--live-dir", live.path])
        }
        for hostile in ["media-remove-7;reboot", "media-remove-0", "../../bin/sh", "media-remove-7 --days 1", ""] {
            let (status, output) = try helper(hostile)
            #expect(status != 0 && output.contains("is not a tootctl action of the catalogue"), "\(hostile): \(output)")
        }
        #expect(!FileManager.default.fileExists(atPath: live.file("tootctl-calls.log")))
        let (status, output) = try helper("preview-cards-remove-30")
        #expect(status == 0 && output == "Removed 1807 preview cards (approx. 343 MB)\n", "\(output)")
        let calls = try String(contentsOfFile: live.file("tootctl-calls.log"), encoding: .utf8)
        #expect(calls == "preview_cards remove --days 30 user=root RAILS_ENV=production cwd=\(Self.clean(live.path))\n")
    }
}
