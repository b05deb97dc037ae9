import ArgumentParser
import Crypto
import HerdProtocol

/// Encoding, signing and verifying a typical report (15 check results), one thread.
struct ProtocolBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocol",
        abstract: "Encode, sign and verify a typical report (15 check results) on one core.")

    @Option(help: "Operations per round.")
    var iterations = 20_000

    @Option(help: "Rounds; the median and best round are reported.")
    var rounds = 9

    @Option(help: "Run only the phases whose name contains this text (for profiling one phase).")
    var only: String?

    mutating func validate() throws {
        guard (1...10_000_000).contains(iterations), (1...100).contains(rounds) else {
            throw ValidationError("--iterations must be 1…10000000 and --rounds 1…100")
        }
    }

    func run() throws {
        let signer = MessageSigner(privateKey: Curve25519.Signing.PrivateKey())
        let agent = AgentIdentity(id: "agt-bench", signingKey: signer.publicKey)
        let now = Date()
        let report = TypicalReport.make(agentID: agent.id, sentAt: now)
        let payload = WireCoding.encode(report)
        let envelope = try signer.seal(report, as: .report)
        let wire = WireCoding.encode(envelope)
        let verifier = AgentMessageVerifier()
        print("report: \(report.results.count) check results, payload \(payload.count) B, envelope \(wire.count) B")
        print("one thread, \(iterations) operations × \(rounds) rounds\n")

        var table = BenchTable(columns: ["phase", "median µs/op", "best µs/op", "CPU µs/op", "ops/s (CPU)"])
        func measure(_ name: String, _ body: () throws -> Void) rethrows {
            if let only, !name.contains(only) { return }
            let result = try Bench.rounds(rounds, iterations: iterations, body)
            table.add([
                name, Bench.format(result.medianMicros), Bench.format(result.bestMicros),
                Bench.format(result.medianCPUMicros), Bench.format(1_000_000 / result.medianCPUMicros, decimals: 0),
            ])
        }
        measure("encode report (JSON)") { _ = WireCoding.encode(report) }
        // The parts of decoding: the JSON read into a tree (a type with no fields reads only that),
        // then the fields by Codable, then the rules.
        struct NoFields: Decodable {}
        try measure("decode: JSON tree only") { _ = try JSONCodable.decode(NoFields.self, from: payload) }
        try measure("decode: tree + fields") { _ = try WireCoding.decodeUnvalidated(Report.self, from: payload) }
        try measure("decode + validate report") { _ = try WireCoding.decode(Report.self, from: payload) }
        try measure("sign (PAE + Ed25519)") { _ = try signer.signature(payloadType: .report, payload: payload) }
        try measure("seal (validate + encode + sign)") { _ = try signer.seal(report, as: .report) }
        try measure("seal + envelope to wire bytes") { _ = WireCoding.encode(try signer.seal(report, as: .report)) }
        let anchorMessage = [UInt8](repeating: 0x61, count: 512)
        let privateKey = Curve25519.Signing.PrivateKey()
        let anchorSignature = try privateKey.signature(for: anchorMessage)
        measure("anchor: Ed25519 verify, 512 B") {
            precondition(privateKey.publicKey.isValidSignature(anchorSignature, for: anchorMessage))
        }
        let pae = envelope.preAuthenticationEncoding
        measure("Ed25519 verify of the report's PAE") {
            precondition(signer.publicKey.isValidSignature(envelope.signatures[0].signature, for: pae))
        }
        measure("verify signature only") {
            precondition(
                !EnvelopeVerifier.validSigners(of: envelope, trusted: [signer.keyID: signer.publicKey]).isEmpty)
        }
        try measure("open (parse + verify + decode + rules)") {
            _ = try verifier.verify(
                Report.self, envelopeBytes: wire, from: agent, lastAcceptedSequence: nil, now: now)
        }
        try measure("agent + controller: seal, wire, open") {
            let bytes = WireCoding.encode(try signer.seal(report, as: .report))
            _ = try verifier.verify(
                Report.self, envelopeBytes: bytes, from: agent, lastAcceptedSequence: nil, now: now)
        }
        table.print()
    }
}

/// A report shaped like a real agent's: 15 results with the metrics and findings the checks produce.
enum TypicalReport {
    static func make(agentID: String, sentAt: Date) -> Report {
        let checks: [(String, CheckStatus, [String: Double], [Finding])] = [
            (
                "logs.journal", .critical,
                ["requests_2xx": 5121, "requests_3xx": 310, "requests_4xx": 87, "requests_5xx": 14, "exceptions": 14],
                [
                    Finding(
                        category: .dbPoolExhausted, signature: "ActiveRecord::ConnectionTimeoutError", count: 14,
                        sample:
                            "method=POST path=/api/v1/statuses status=500 error='ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds'"
                    ),
                    Finding(
                        category: .federationRemoteFailure, signature: "HTTP::TimeoutError", count: 31,
                        sample: "HTTP::TimeoutError: Read timed out after 10 seconds"),
                ]
            ),
            ("logs.sidekiq", .warning, ["job_failures": 9, "jobs_done": 4410], []),
            ("nginx.error_log", .ok, ["upstream_unreachable": 0, "upstream_timeout": 0], []),
            ("nginx.access_log", .ok, ["requests": 6120, "status_500": 2, "status_502": 0, "status_504": 0], []),
            ("services", .ok, ["units_active": 7, "units_failed": 0, "restarts_delta": 0], []),
            (
                "disk", .warning,
                ["live_used_ratio": 0.81, "public_system_free_bytes": 48_318_382_080, "inodes_used_ratio": 0.12], []
            ),
            ("resources", .ok, ["load1": 1.2, "cpu_busy_ratio": 0.35, "mem_available_bytes": 3_221_225_472], []),
            ("oom", .ok, ["oom_kills": 0], []),
            ("media", .ok, ["ffmpeg_present": 1, "vips_present": 1], []),
            ("config", .ok, ["env_keys": 42], []),
            ("postgresql", .ok, ["connections_used": 61, "connections_max": 97, "select1_ms": 0.4], []),
            (
                "sidekiq", .warning,
                ["queue_push_latency_seconds": 212.9, "retry_size": 412, "dead_size": 1840, "live_processes": 2], []
            ),
            ("http.web", .ok, ["health_ms": 3.1, "instance_ms": 41.0], []),
            ("http.streaming", .ok, ["health_ms": 1.4], []),
            ("api_probe", .ok, ["verify_credentials_ms": 58.2, "ratelimit_remaining": 298], []),
        ]
        return Report(
            agentID: agentID, instance: "social.example.org", sequence: 42, collectedAt: sentAt, sentAt: sentAt,
            agentVersion: HerdVersion.current, intervalSeconds: 60,
            host: HostFacts(
                hostname: "masto-17.fra1.example.net", mastodonVersion: "4.3.2",
                objectStorageEndpoint: "fra1.digitaloceanspaces.com", region: "fra1", provider: "digitalocean"),
            results: checks.map { id, status, metrics, findings in
                CheckResult(
                    checkID: id, status: status, summary: "\(id): \(status.rawValue) in the last cycle",
                    durationMilliseconds: 2.5, metrics: metrics, findings: findings)
            })
    }
}
