import ArgumentParser
import Crypto
import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport

/// Remediation: approval-to-execution latency over loopback with the real binaries (herd-controller
/// serve, herd-agent run with its long-poll, herdctl for the operators; the recording systemctl of the
/// tests stands in for systemd), and the agent's cost of checking one command (`CommandGate.decide`).
struct RemediationBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remediation",
        abstract: "Approval-to-execution latency (real binaries over mutual TLS) and the agent's cost per command.")

    @Option(help: "Remediations proposed, approved and executed one after another.")
    var rounds = 20

    func run() async throws {
        try gateCost()
        try await latency()
    }

    /// The gate on one command with the requester's and one approver's signatures: decode, two Ed25519
    /// verifications, the policy files read and checked, the ledger rewritten and fsync'd.
    func gateCost() throws {
        let root = try TemporaryDirectory("herd-bench-gate")
        defer { root.remove() }
        let alice = Curve25519.Signing.PrivateKey()
        let bob = Curve25519.Signing.PrivateKey()
        try root.write("allowlist.conf", "restart_service = web, sidekiq\nrestart_service.limit = 1000/1d\n")
        try root.write(
            "trust.conf",
            "operator.alice = \(Base64.encode(alice.publicKey.rawRepresentation))\n"
                + "operator.bob = \(Base64.encode(bob.publicKey.rawRepresentation))\n")
        let (allowlist, trust) = (root.file("allowlist.conf"), root.file("trust.conf"))
        let gate = CommandGate(
            agentID: "agent-1", instance: "social.example",
            ledger: try CommandLedger(stateDirectory: root.file("state")),
            policy: { () throws(HostPolicyError) in try HostPolicy.load(allowlist: allowlist, trust: trust) })
        func envelope() throws -> SignedEnvelope {
            let now = Date()
            let command = Command(
                id: UUID().uuidString.lowercased(), agentID: "agent-1", instance: "social.example",
                action: .restartService(.sidekiq), reason: "bench", requestedBy: KeyID(publicKey: alice.publicKey),
                issuedAt: now, expiresAt: now.addingTimeInterval(300))
            var sealed = try MessageSigner(privateKey: alice).seal(command, as: .command)
            sealed.signatures.append(
                try MessageSigner(privateKey: bob).signature(payloadType: .command, payload: sealed.payload))
            return sealed
        }
        // 101 commands: the ledger then holds ≤ 101 ids, more than a host keeps (ids live until an hour
        // past their expiry).
        let envelopes = try (0..<101).map { _ in try envelope() }
        var next = 0
        var accepted = 0
        let full = Bench.rounds(10, iterations: 10) {
            if case .run = gate.decide(envelopes[next], now: Date()) { accepted += 1 }
            next += 1
        }
        let trusted = [
            KeyID(publicKey: alice.publicKey): alice.publicKey, KeyID(publicKey: bob.publicKey): bob.publicKey,
        ]
        let signatures = Bench.rounds(10, iterations: 100) {
            precondition(EnvelopeVerifier.validSigners(of: envelopes[0], trusted: trusted).count == 2)
        }
        let files = Bench.rounds(10, iterations: 100) {
            _ = try? HostPolicy.load(allowlist: allowlist, trust: trust)
        }
        var table = BenchTable(columns: ["agent, per command", "median µs", "best µs", "CPU µs"])
        for (name, result) in [
            ("whole gate (ledger rewritten, fsync'd)", full), ("2 Ed25519 verifications", signatures),
            ("policy files read + checked", files),
        ] {
            table.add([
                name, Bench.format(result.medianMicros), Bench.format(result.bestMicros),
                Bench.format(result.medianCPUMicros),
            ])
        }
        table.print()
        print("commands admitted: \(accepted) of \(next)")
    }

    func latency() async throws {
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for product in ["herd-controller", "herd-agent", "herdctl"]
        where !FileManager.default.isExecutableFile(atPath: directory + "/" + product) {
            throw ValidationError("build \(product) next to herd-bench: swift build -c release")
        }
        let root = try TemporaryDirectory("herd-bench-remediation")
        defer { root.remove() }
        let port = try FreePort.next()
        func tool(_ product: String, _ arguments: [String]) throws -> String {
            try Bench.tool(directory + "/" + product, arguments)
        }
        let admin = ["--config", root.file("herdctl/config")]
        let bob = ["--config", root.file("bob/config")]
        _ = try tool(
            "herd-controller",
            [
                "init", "--data-dir", root.file("data"), "--herdctl-dir", root.file("herdctl"), "--listen",
                "127.0.0.1:\(port)",
            ])
        let server = try ControllerProcess(binary: directory + "/herd-controller", dataDirectory: root.file("data"))
        defer { server.kill() }
        _ = try tool(
            "herdctl",
            [
                "operators", "request", "--name", "bob", "--controller", "https://127.0.0.1:\(port)", "--ca",
                root.file("herdctl/ca.pem"), "--dir", root.file("bob"),
            ])
        _ = try tool(
            "herdctl",
            ["operators", "add", "--request", root.file("bob/request.json"), "--out", root.file("bob.pem")] + admin)
        _ = try tool(
            "herdctl", ["operators", "install", "--certificate", root.file("bob.pem"), "--dir", root.file("bob")])

        // The host: the tests' recording systemctl and its units, the host's policy.
        let bin = root.file("bin")
        try FileManager.default.createDirectory(atPath: bin + "/units", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/standins/system/systemctl"),
            toPath: bin + "/systemctl")
        let healthy = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/hosts/healthy/systemd")
        for unit in try FileManager.default.contentsOfDirectory(atPath: healthy) {
            try FileManager.default.copyItem(atPath: healthy + "/" + unit, toPath: bin + "/units/" + unit)
        }
        try FileManager.default.createDirectory(atPath: root.file("policy"), withIntermediateDirectories: true)
        try
            (try tool("herdctl", ["operators", "trust-line"] + admin)
            + (try tool("herdctl", ["operators", "trust-line"] + bob)))
            .write(toFile: root.file("policy/trust.conf"), atomically: true, encoding: .utf8)
        try "restart_service = sidekiq\nrestart_service.limit = 1000/1h\n".write(
            toFile: root.file("policy/allowlist.conf"), atomically: true, encoding: .utf8)
        try root.write(
            "agent.conf",
            """
            interval = 60
            checks.enabled = services
            units.supporting = nginx.service
            command_path = \(bin):/usr/bin:/bin
            mastodon.env_file = \(root.file("no-env"))
            state_dir = \(root.file("state"))
            remediation.allowlist = \(root.file("policy/allowlist.conf"))
            remediation.trust = \(root.file("policy/trust.conf"))
            remediation.poll = 50s

            """)
        let token = try JSONCodable.decode(
            OperatorAPI.Token.self,
            from: Data(
                try tool(
                    "herdctl", ["agents", "token", "--instance", "social.example", "--ttl", "10m", "--json"] + admin
                ).utf8))
        _ = try tool(
            "herd-agent",
            [
                "enroll", "--config", root.file("agent.conf"), "--controller", "https://127.0.0.1:\(port)", "--token",
                token.token, "--ca-fingerprint", token.caFingerprint, "--instance", "social.example",
            ])
        let agent = Process()
        agent.executableURL = URL(fileURLWithPath: directory + "/herd-agent")
        agent.arguments = ["run", "--config", root.file("agent.conf"), "--log-level", "error"]
        try agent.run()
        defer {
            agent.terminate()
            agent.waitUntilExit()
        }
        try await Task.sleep(for: .seconds(2))  // the first cycle and the long-poll open

        let calls = bin + "/units/calls.log"
        func ran() -> Int {
            ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").count
        }
        var latencies: [Double] = []
        var approvals: [Double] = []
        for _ in 0..<rounds {
            let proposed = try JSONCodable.decode(
                OperatorAPI.RemediationDetail.self,
                from: Data(
                    try tool(
                        "herdctl",
                        [
                            "remediate", "propose", "social.example", "restart-service", "--param", "service=sidekiq",
                            "--reason", "bench", "--json",
                        ] + admin
                    ).utf8))
            let before = ran()
            let started = ContinuousClock.now
            _ = try tool("herdctl", ["remediate", "approve", proposed.remediation.id] + bob)
            approvals.append(Bench.micros(ContinuousClock.now - started) / 1000)
            while ran() == before {
                guard ContinuousClock.now - started < .seconds(30) else {
                    throw ValidationError("remediation \(proposed.remediation.id) did not run within 30 s")
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            latencies.append(Bench.micros(ContinuousClock.now - started) / 1000)
            try await Task.sleep(for: .milliseconds(300))  // let the result and verification report land
        }
        latencies.sort()
        approvals.sort()
        print(
            "approval to execution over \(rounds) rounds (from `herdctl remediate approve` starting to systemctl running): "
                + "median \(Bench.format(latencies[latencies.count / 2])) ms, p90 \(Bench.format(latencies[latencies.count * 9 / 10])) ms, "
                + "max \(Bench.format(latencies.last!)) ms; of which herdctl approve itself: median \(Bench.format(approvals[approvals.count / 2])) ms"
        )
    }
}
