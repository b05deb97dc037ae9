import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing

/// The real executables: `herd-controller init` and `serve`, `herd-agent enroll` and `run`, over mutual
/// TLS on 127.0.0.1 — and a controller killed with SIGKILL while the agent keeps reporting.
@Suite(.serialized) struct EndToEndTests {
    final class Fleet: @unchecked Sendable {
        let root: TemporaryDirectory
        let port: Int
        var controller: ControllerProcess?
        var data: String { root.file("data") }
        var state: String { root.file("agent-state") }
        var agentConfig: String { root.file("agent.conf") }

        init(silenceIntervals: Int = 24) throws {
            root = try TemporaryDirectory("herd-e2e")
            port = try FreePort.next()
            try run(
                "herd-controller",
                ["init", "--data-dir", data, "--herdctl-dir", root.file("herdctl"), "--listen", "127.0.0.1:\(port)"])
            // One failing disk result is an incident here, so that a single `run --once` shows the path;
            // the agent is `silent` only after 2 minutes, not 3 intervals of 5 s (under CI's load a
            // report once was 15 s old by the time herdctl asked).
            let configuration = try String(contentsOfFile: data + "/controller.conf", encoding: .utf8)
            let relaxed = configuration.replacingOccurrences(
                of: "silence.intervals = 3\n", with: "silence.intervals = \(silenceIntervals)\n")
            guard relaxed != configuration else { throw FixtureError("controller.conf: no silence.intervals = 3") }
            try (relaxed + "patterns.persistent.check.disk = 1/0s/2\n").write(
                toFile: data + "/controller.conf", atomically: true, encoding: .utf8)
            // An agent with one cheap check on the real host and no Mastodon around it.
            try root.write(
                "agent.conf",
                """
                interval = 5
                checks.enabled = disk
                disk.paths = root=/
                disk.warning_percent = 0
                disk.critical_percent = 0
                mastodon.env_file = \(root.file("no-env"))
                state_dir = \(state)

                """)
        }

        @discardableResult
        func run(_ product: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
            try BuiltProduct.run(product, arguments)
        }

        func startController() throws {
            controller = try ControllerProcess(binary: try BuiltProduct.path("herd-controller"), dataDirectory: data)
        }

        func killController() { controller?.kill() }

        func stopController() { controller?.stop() }

        /// herdctl with the first operator's identity.
        func herdctl(_ arguments: [String]) throws -> (status: Int32, output: String) {
            try run("herdctl", arguments + ["--config", root.file("herdctl/config")])
        }

        func token(_ instance: String) async throws -> OperatorAPI.Token {
            let answer = try herdctl(["agents", "token", "--instance", instance, "--ttl", "10m", "--json"])
            #expect(answer.status == 0, "\(answer.output)")
            return try JSONCodable.decode(OperatorAPI.Token.self, from: Data(answer.output.utf8))
        }

        /// Sequences stored for the agent, read from the controller's database.
        func storedSequences() async throws -> [UInt64] {
            let store = try Store(path: data + "/herd.sqlite")
            defer { try? store.close() }
            return try await store.sequences()
        }

        /// A second operator, made the supported way: keys on "their machine" (`operators request`), the
        /// first operator adds them, they install the certificate. Returns their herdctl config.
        func addOperator(_ name: String) throws -> String {
            let directory = root.file(name)
            let request = try run(
                "herdctl",
                [
                    "operators", "request", "--name", name, "--controller", "https://127.0.0.1:\(port)", "--ca",
                    root.file("herdctl/ca.pem"), "--dir", directory, "--json",
                ])
            #expect(request.status == 0, "\(request.output)")
            let made = try JSONCodable.decode([String: String].self, from: Array(request.output.utf8))
            #expect(made["request_file"] == directory + "/request.json" && made["signing_key_id"]?.isEmpty == false)
            let added = try herdctl([
                "operators", "add", "--request", directory + "/request.json", "--out", root.file("\(name).pem"),
            ])
            #expect(added.status == 0, "\(added.output)")
            let installed = try run(
                "herdctl",
                ["operators", "install", "--certificate", root.file("\(name).pem"), "--dir", directory, "--json"])
            #expect(installed.status == 0, "\(installed.output)")
            let answer = try JSONCodable.decode([String: String].self, from: Array(installed.output.utf8))
            let operators = try JSONCodable.decode(
                OperatorAPI.Operators.self, from: Array(try herdctl(["operators", "list", "--json"]).output.utf8))
            #expect(operators.operators.first { $0.name == name }?.certificateFingerprint == answer["fingerprint"])
            return directory + "/config"
        }

        /// `herd-agent run` in the background; the caller kills it.
        func daemon() throws -> Process {
            let daemon = Process()
            daemon.executableURL = URL(fileURLWithPath: try BuiltProduct.path("herd-agent"))
            daemon.arguments = ["run", "--config", agentConfig, "--log-level", "error"]
            daemon.standardOutput = FileHandle.nullDevice
            daemon.standardError = FileHandle.nullDevice
            try daemon.run()
            return daemon
        }

        /// `herd-agent enroll` for `instance` with `token`, checking the CA against `fingerprint`
        /// (the token's own by default).
        func enroll(_ instance: String, token: OperatorAPI.Token, fingerprint: String? = nil) throws -> (
            status: Int32, output: String
        ) {
            try run(
                "herd-agent",
                [
                    "enroll", "--config", agentConfig, "--controller", "https://127.0.0.1:\(port)", "--token",
                    token.token, "--ca-fingerprint", fingerprint ?? token.caFingerprint, "--instance", instance,
                ])
        }

        func agentIDs() async throws -> [String] {
            let store = try Store(path: data + "/herd.sqlite")
            defer { try? store.close() }
            return try await store.agents(state: nil).map(\.id)
        }

        deinit {
            killController()
            root.remove()
        }
    }

    @Test func enrollRunAndSurviveAControllerKilledMidStream() async throws {
        let fleet = try Fleet()
        try fleet.startController()
        let token = try await fleet.token("social.example")

        // A wrong CA fingerprint: refused before anything is sent.
        let wrong = try fleet.enroll(
            "social.example", token: token, fingerprint: String(repeating: "ab", count: 32))
        #expect(wrong.status != 0)
        #expect(wrong.output.contains("did not present a CA with fingerprint"), "\(wrong.output)")
        // A token file that is not what `herdctl agents token --json` prints, or that names another
        // instance than --instance: refused before anything is sent.
        try fleet.root.write("token.json", String(decoding: try JSONCodable.encode(token), as: UTF8.self))
        try fleet.root.write("garbage.json", [0x7B, 0x00, 0xFF, 0x22])
        for (file, instance, expected) in [
            ("garbage.json", nil, "is not what `herdctl agents token --json` prints"),
            ("token.json", "other.example", "--instance differs from"),
        ] {
            let refused = try fleet.run(
                "herd-agent",
                [
                    "enroll", "--config", fleet.agentConfig, "--controller", "https://127.0.0.1:\(fleet.port)",
                    "--token-file", fleet.root.file(file),
                ] + (instance.map { ["--instance", $0] } ?? []))
            #expect(refused.status == 1 && refused.output.contains(expected), "\(refused.output)")
        }
        #expect(try await fleet.agentIDs().isEmpty)

        let enrolled = try fleet.enroll("social.example", token: token)
        #expect(enrolled.status == 0, "\(enrolled.output)")
        #expect(enrolled.output.contains("enrolled: agent"))
        for file in ["signing-key.pem", "tls-key.pem", "enrollment.conf"] {
            var info = stat()
            stat(fleet.state + "/identity/" + file, &info)
            #expect(info.st_mode & 0o777 == 0o600, "\(file)")
        }

        let once = try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig])
        #expect(once.status == 0, "\(once.output)")
        #expect(try await fleet.storedSequences() == [1])

        // The fleet through herdctl: a critical instance makes `status` exit 1.
        let status = try fleet.herdctl(["status"])
        #expect(status.status == 1, "\(status.output)")
        #expect(status.output.contains("social.example") && status.output.contains("critical"), "\(status.output)")
        let json = try fleet.herdctl(["status", "--json"])
        let rows = try WireCoding.decode(
            OperatorAPI.Fleet.self, from: Array(json.output.utf8), maxBytes: OperatorAPI.Fleet.maxBytes
        ).instances
        #expect(rows.first?.failing == ["disk"])
        let show = try fleet.herdctl(["show", "social.example"])
        #expect(show.status == 0 && show.output.contains("disk"), "\(show.output)")
        let agents = try fleet.herdctl(["agents", "list"])
        #expect(agents.status == 0 && agents.output.contains("accepted"), "\(agents.output)")
        #expect(try fleet.herdctl(["show", "Not A Domain"]).status == 2)

        // The failing disk is an incident, with a diagnosis; operators acknowledge and silence.
        let incidents = try fleet.herdctl(["incidents", "--open", "--json"])
        let open = try JSONCodable.decode(OperatorAPI.Incidents.self, from: Data(incidents.output.utf8))
        #expect(open.incidents.map(\.checkId) == ["disk"], "\(incidents.output)")
        let incident = try #require(open.incidents.first)
        #expect(incident.diagnosis?.rule == "disk_full" && incident.diagnosis?.action == "media-remove")
        let shown = try fleet.herdctl(["incident", "show", "\(incident.id)"])
        #expect(
            shown.status == 0 && shown.output.contains("Probable cause") && shown.output.contains("opened"),
            "\(shown.output)")
        #expect(try fleet.herdctl(["ack", "\(incident.id)"]).output.contains("acknowledged by admin"))
        let patterns = try fleet.herdctl(["patterns"])
        #expect(patterns.status == 0 && patterns.output.contains("persistent"), "\(patterns.output)")
        let silence = try fleet.herdctl([
            "silence", "add", "--instance", "social.example", "--for", "2h", "--reason", "disk replacement",
        ])
        #expect(silence.status == 0 && silence.output.contains("silence #1"), "\(silence.output)")
        #expect(try fleet.herdctl(["silence", "list"]).output.contains("disk replacement"))
        #expect(try fleet.herdctl(["silence", "expire", "1"]).status == 0)
        #expect(try fleet.herdctl(["silence", "expire", "1"]).status == 1)  // already over
        let tagged = try fleet.herdctl(["instance", "attributes", "social.example", "datacenter=fra1"])
        #expect(tagged.status == 0 && tagged.output.contains("datacenter=fra1"), "\(tagged.output)")
        #expect(try fleet.herdctl(["instance", "attributes", "other.example", "datacenter=fra1"]).status == 1)
        #expect(try fleet.herdctl(["instance", "attributes", "social.example", "no-equals"]).status == 2)
        // Hostile arguments: usage errors (2) before anything is sent, refusals (1) from the controller.
        #expect(try fleet.herdctl(["incident", "show", "0"]).status == 2)
        #expect(try fleet.herdctl(["incident", "show", "99"]).status == 1)
        #expect(try fleet.herdctl(["silence", "add", "--for", "1h", "--reason", "x"]).status == 2)
        #expect(try fleet.herdctl(["silence", "add", "--check", "disk", "--for", "10y", "--reason", "x"]).status == 2)
        #expect(
            try fleet.herdctl(["silence", "add", "--instance", "Not A Domain", "--for", "1h", "--reason", "x"]).status
                == 1)

        // A second operator: keys made on "their machine", only public halves travel.
        let bob = try fleet.addOperator("bob")
        let second = fleet.root.file("bob")
        let requestText = try SecureFile.readText(second + "/request.json")
        #expect(!requestText.contains("PRIVATE"))
        #expect(
            try fleet.herdctl([
                "operators", "add", "--request", second + "/request.json", "--out", fleet.root.file("bob2.pem"),
            ]).status == 1)
        let asBob = try fleet.run("herdctl", ["operators", "list", "--config", bob])
        #expect(asBob.status == 0 && asBob.output.contains("bob") && asBob.output.contains("admin"), "\(asBob.output)")
        let line = try fleet.run("herdctl", ["operators", "trust-line", "--config", bob])
        let lineJSON = try fleet.run("herdctl", ["operators", "trust-line", "--json", "--config", bob])
        let trust = try JSONCodable.decode([String: String].self, from: Array(lineJSON.output.utf8))
        #expect(trust["operator"] == "bob" && line.output.contains(trust["line"] ?? "?"), "\(lineJSON.output)")
        #expect(try fleet.run("herdctl", ["status", "--config", fleet.root.file("missing")]).status == 2)

        // The daemon, with the controller killed under it and restarted.
        let daemon = try fleet.daemon()
        defer {
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
        try await waitFor { try await fleet.storedSequences().count >= 3 }
        fleet.killController()
        try await Task.sleep(for: .seconds(7))  // at least one cycle lands in the outbox only
        try fleet.startController()
        try await Task.sleep(for: .seconds(1))
        // Everything the agent numbered arrives, each once, in order.
        try await waitFor(seconds: 60) {
            let last = UInt64((try? SecureFile.readText(fleet.state + "/sequence"))?.trimmed() ?? "") ?? 0
            let outbox = (try? FileManager.default.contentsOfDirectory(atPath: fleet.state + "/outbox")) ?? []
            let stored = try await fleet.storedSequences()
            return last >= 4 && outbox.isEmpty && stored == Array(1...last)
        }
        fleet.stopController()
        #expect(try fleet.herdctl(["status"]).status == 3)
    }

    /// An agent whose state dir went back in time (restored from a snapshot, a reinstall that kept the
    /// identity) under a controller that has newer sequences from it: the refused reports move past the
    /// controller's last, and every report made after the restore is stored.
    @Test func aStateDirRestoredFromASnapshotLosesNoReport() async throws {
        let fleet = try Fleet()
        try fleet.startController()
        let enrolled = try fleet.enroll("social.example", token: try await fleet.token("social.example"))
        #expect(enrolled.status == 0, "\(enrolled.output)")
        let snapshot = fleet.root.file("snapshot")
        #expect(try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig]).status == 0)
        try FileManager.default.copyItem(atPath: fleet.state, toPath: snapshot)
        for _ in 0..<3 {
            #expect(try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig]).status == 0)
        }
        #expect(try await fleet.storedSequences() == [1, 2, 3, 4])
        try FileManager.default.removeItem(atPath: fleet.state)
        try FileManager.default.copyItem(atPath: snapshot, toPath: fleet.state)
        for _ in 0..<2 {
            let once = try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig])
            #expect(once.status == 0, "\(once.output)")
        }
        #expect(try await fleet.storedSequences() == [1, 2, 3, 4, 5, 6])
        #expect(try FileManager.default.contentsOfDirectory(atPath: fleet.state + "/outbox").isEmpty)
    }

    /// An agent that stops reporting is paged: an incident opens on its instance, `herdctl status`
    /// exits 1 and says `silent`, and its next report resolves the incident.
    @Test func aSilentAgentOpensAnIncidentAndItsNextReportResolvesIt() async throws {
        let fleet = try Fleet(silenceIntervals: 1)
        try fleet.startController()
        let enrolled = try fleet.enroll("social.example", token: try await fleet.token("social.example"))
        #expect(enrolled.status == 0, "\(enrolled.output)")
        #expect(try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig]).status == 0)
        func silentIncidents() throws -> [OperatorAPI.IncidentRow] {
            let answer = try fleet.herdctl(["incidents", "--open", "--json"])
            return try JSONCodable.decode(OperatorAPI.Incidents.self, from: Data(answer.output.utf8))
                .incidents.filter { $0.checkId == "agent" }
        }
        // One interval of 5 s missed, and the controller's sweep every 5 s.
        try await waitFor(seconds: 40) { try !silentIncidents().isEmpty }
        let incident = try #require(try silentIncidents().first)
        #expect(incident.severity == "critical" && incident.diagnosis?.rule == "agent_silent")
        let status = try fleet.herdctl(["status"])
        #expect(status.status == 1 && status.output.contains("silent"), "\(status.output)")
        #expect(try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig]).status == 0)
        let shown = try fleet.herdctl(["incident", "show", "\(incident.id)"])
        #expect(shown.output.contains("resolved") && shown.output.contains("reported again"), "\(shown.output)")
    }

    /// A full disk under the outbox: the cycles that could not be stored are counted in memory (the
    /// outbox's own counter is on the same disk), told in the next report's `outbox_dropped` once the
    /// disk has room, and shown on the instance. Root only: it mounts a tmpfs.
    @Test(.enabled(if: getuid() == 0, "mounts a tmpfs"))
    func cyclesLostToAFullDiskAreCountedAndShown() async throws {
        let fleet = try Fleet()
        try fleet.startController()
        let enrolled = try fleet.enroll("social.example", token: try await fleet.token("social.example"))
        #expect(enrolled.status == 0, "\(enrolled.output)")
        #expect(try fleet.run("herd-agent", ["run", "--once", "--config", fleet.agentConfig]).status == 0)
        let outbox = fleet.state + "/outbox"
        let mount = try TinyMount(tmpfs: outbox, bytes: 64 << 10)
        defer { mount.remove() }
        try mount.fill()
        let daemon = try fleet.daemon()
        defer {
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }
        try await Task.sleep(for: .seconds(12))  // two cycles of 5 s or more, neither stored
        #expect(try await fleet.storedSequences() == [1])
        mount.emptied()
        var shown = ""
        try await waitFor(seconds: 60) {
            shown = try fleet.herdctl(["show", "social.example"]).output
            return shown.contains("lost")
        }
        let detail = try JSONCodable.decode(
            OperatorAPI.InstanceDetail.self,
            from: Data(try fleet.herdctl(["show", "social.example", "--json"]).output.utf8))
        #expect(detail.reportsLost >= 2, "\(shown)")
    }

    /// Under TLS 1.2 the controller speaks AEAD suites only: a client offering only CBC or SHA-1 suites
    /// is refused at the handshake (OpenSSL's own client, as an outsider's would be). Against the real
    /// executable: a test server cancelled in-process with refused handshakes still queued trips a NIO
    /// debug assertion that a served controller, stopped gracefully, never meets.
    @Test func tls12OffersAEADSuitesOnly() async throws {
        let fleet = try Fleet()
        try fleet.startController()
        func handshake(_ cipher: String) throws -> String {
            try runExecutable(
                "/usr/bin/openssl",
                ["s_client", "-connect", "127.0.0.1:\(fleet.port)", "-tls1_2", "-cipher", cipher, "-brief"]
            ).output
        }
        for cipher in ["ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "AES128-SHA", "ECDHE-ECDSA-AES128-SHA256"] {
            let answer = try handshake(cipher)
            #expect(
                !answer.contains("Ciphersuite:") && !answer.contains("CONNECTION ESTABLISHED"), "\(cipher): \(answer)")
        }
        for cipher in ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"] {
            let answer = try handshake(cipher)
            #expect(answer.contains("Ciphersuite: \(cipher)"), "\(cipher): \(answer)")
        }
        fleet.stopController()
    }

}

/// A small tmpfs mounted over a directory (root only), to make its disk full.
struct TinyMount {
    let path: String
    var filler: String { path + "/filler" }

    init(tmpfs path: String, bytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let (status, output) = try runExecutable(
            "/bin/mount", ["-t", "tmpfs", "-o", "size=\(bytes),mode=0700", "herd-test-full", path])
        guard status == 0 else { throw FixtureError("mount: \(output)") }
    }

    /// Writes until the disk is full.
    func fill() throws {
        guard FileManager.default.createFile(atPath: filler, contents: nil),
            let handle = FileHandle(forWritingAtPath: filler)
        else { throw FixtureError("cannot create \(filler)") }
        let chunk = Data(count: 4096)
        while (try? handle.write(contentsOf: chunk)) != nil {}
        try? handle.close()
    }

    func emptied() { try? FileManager.default.removeItem(atPath: filler) }

    func remove() {
        _ = try? runExecutable("/bin/umount", [path])
    }
}
