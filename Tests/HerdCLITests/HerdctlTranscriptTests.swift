import Foundation
import HerdCLI
import HerdProtocol
import HerdTestSupport
import Testing

/// Every verb's output, in process, on fixture answers: `HerdctlHarness` serves each request herdctl
/// makes from `Fixtures/answers` (answers a lab controller gave) and the transcript — what herdctl
/// printed, and its exit status — must equal `Fixtures/transcripts/NAME.txt`.
///
/// The answers are recorded from a running lab, not written by hand: `herd-lab up --dir /tmp/labT`,
/// `herd-lab break alpha sidekiq-dead --dir /tmp/labT`, wait for the incident, then
/// `HERD_RECORD_FROM=/tmp/labT/operators/admin/config swift test --filter HerdctlTranscriptTests`
/// (the harness sends each request to that controller with curl, as admin, and keeps the answer);
/// `HERD_UPDATE_GOLDEN=1` rewrites the transcripts. Review both diffs. (The two `GET_v1_fleet` answers
/// were recorded later, from another lab, when `status` came to ask for the instances that are not ok:
/// their agent ids differ from the other answers'.)
@Suite(.serialized) struct HerdctlTranscriptTests {
    static let fixtures = RepositoryPaths.path("Tests/HerdCLITests/Fixtures")
    /// The instant the recorded answers are read at (ages are counted from it).
    static let now = Date(timeIntervalSince1970: 1_796_242_700)

    /// The verbs, in the order they were recorded (acknowledging changes what later answers hold).
    static let transcripts: [(name: String, arguments: [String])] = [
        ("status", ["status"]),
        ("status-json", ["status", "--json"]),
        ("status-all", ["status", "--all"]),
        ("show", ["show", "alpha.lab.example"]),
        ("agents", ["agents", "list"]),
        ("agents-pending", ["agents", "pending"]),
        ("incidents", ["incidents"]),
        ("incident-show", ["incident", "show", "1"]),
        ("incident-missing", ["incident", "show", "999"]),
        ("patterns", ["patterns"]),
        ("silences", ["silence", "list"]),
        ("operators", ["operators", "list"]),
        ("ack", ["ack", "1"]),
        ("incident-remediate", ["incident", "remediate", "1", "--preview-wait", "0s", "--quiet"]),
        ("remediations", ["remediate", "list"]),
        ("remediate-show", ["remediate", "show", "1a355b8b-bc8d-4bbb-9a4a-ee04b1f2272e"]),
        ("remediate-approve-own", ["remediate", "approve", "1a355b8b-bc8d-4bbb-9a4a-ee04b1f2272e", "--yes"]),
        ("remediate-deny", ["remediate", "deny", "1a355b8b-bc8d-4bbb-9a4a-ee04b1f2272e", "--reason", "not now"]),
        ("remediate-freeze", ["remediate", "freeze", "--reason", "incident review"]),
        ("remediate-thaw", ["remediate", "thaw", "--reason", "review done"]),
        ("silence-add", ["silence", "add", "--check", "sidekiq", "--for", "2h", "--reason", "upgrade"]),
        ("silence-expire", ["silence", "expire", "1"]),
        ("instance-attributes", ["instance", "attributes", "alpha.lab.example", "plan=pro"]),
        ("agents-token", ["agents", "token", "--instance", "delta.lab.example", "--ttl", "10m"]),
        ("agents-accept-accepted", ["agents", "accept", "89ebd235a0383cc6b587"]),
        ("agents-revoke", ["agents", "revoke", "9c47ef891f0228d8ab0c"]),
        ("audit", ["audit"]),
        ("audit-verify", ["audit", "--verify"]),
    ]

    /// A fixture file's name for a request: `GET_v1_incidents_1` (then `.STATUS`).
    static func answerName(_ method: String, _ path: String) -> String {
        method + "_" + String(path.dropFirst().map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
    }

    /// What the controller answered when recorded: its status and body; 404 `not_found` when none was.
    static func recorded(_ method: String, _ path: String) -> (Int, [UInt8]) {
        let name = answerName(method, path)
        let directory = fixtures + "/answers"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        guard
            let file = files.first(where: { $0.hasPrefix(name + ".") && !$0.dropFirst(name.count + 1).contains(".") }),
            let status = Int(file.dropFirst(name.count + 1)),
            let body = FileManager.default.contents(atPath: directory + "/" + file)
        else {
            return (404, WireCoding.encode(ErrorResponse(error: WireError(.notFound, "no fixture for \(name)"))))
        }
        return (status, Array(body))
    }

    /// Sends the request to the recording controller with curl, as the operator whose config is given,
    /// and keeps the answer as a fixture.
    static func record(_ config: String, _ method: String, _ path: String, _ body: [UInt8]?) -> (Int, [UInt8]) {
        let settings = Dictionary(
            ((try? KeyValueFile.parse(String(contentsOfFile: config, encoding: .utf8))) ?? []).map {
                ($0.key, $0.value)
            }
        ) { a, _ in a }
        guard let directory = try? TemporaryDirectory("record") else { return (0, []) }
        defer { directory.remove() }
        var arguments = [
            "-sS", "-o", directory.file("answer"), "-w", "%{http_code}", "-X", method, "--cacert", settings["ca"] ?? "",
            "--cert", settings["certificate"] ?? "", "--key", settings["tls_key"] ?? "",
        ]
        if let body {
            try? directory.write("body", body)
            arguments += ["-H", "Content-Type: application/json", "--data-binary", "@" + directory.file("body")]
        }
        let output =
            (try? runExecutable("/usr/bin/curl", arguments + [(settings["controller"] ?? "") + path]))?.output ?? ""
        let status = Int(output.suffix(3)) ?? 0
        let answer = Array(FileManager.default.contents(atPath: directory.file("answer")) ?? Data())
        _ = FileManager.default.createFile(
            atPath: fixtures + "/answers/\(answerName(method, path)).\(status)", contents: Data(answer))
        return (status, answer)
    }

    /// An operator of herdctl's own making (keys made in process): the config the verbs run with.
    static func operatorConfig(_ directory: TemporaryDirectory) async throws -> String {
        try directory.write("ca.pem", try TestCertificateAuthority().certificatePEM)
        let made = await HerdctlHarness.run(
            [
                "operators", "request", "--name", "admin", "--controller", "https://herd.example.net:8443", "--ca",
                directory.file("ca.pem"), "--dir", directory.file("admin"),
            ], now: now
        ) { method, path, _ in recorded(method, path) }
        try #require(made.status == 0, "\(made.output)")
        return directory.file("admin/config")
    }

    /// An answer herdctl cannot read — here the epoch-number instants a controller before RFC 3339 wrote
    /// — is an error that says what is likely wrong, never a crash or a table of zeros.
    @Test func anAnswerOfAnotherVersionSaysSo() async throws {
        let directory = try TemporaryDirectory("transcripts")
        defer { directory.remove() }
        let config = try await Self.operatorConfig(directory)
        for arguments in [["status"], ["incidents"], ["show", "alpha.lab.example"]] {
            let (status, output) = await HerdctlHarness.run(arguments + ["--config", config], now: Self.now) {
                _, _, _ in (200, Array(#"{"server_time":1796242744.12,"instances":[],"incidents":[]}"#.utf8))
            }
            #expect(status == 1, "\(output)")
            #expect(output.contains("are herdctl and the controller the same version?"), "\(output)")
        }
    }

    @Test func everyVerbPrintsWhatItsTranscriptSays() async throws {
        let directory = try TemporaryDirectory("transcripts")
        defer { directory.remove() }
        let recordFrom = ProcessInfo.processInfo.environment["HERD_RECORD_FROM"]
        let config: String
        if let recordFrom { config = recordFrom } else { config = try await Self.operatorConfig(directory) }
        for (name, arguments) in Self.transcripts {
            let (status, output) = await HerdctlHarness.run(arguments + ["--config", config], now: Self.now) {
                method, path, body in
                recordFrom.map { Self.record($0, method, path, body) } ?? Self.recorded(method, path)
            }
            let transcript = "$ herdctl \(arguments.joined(separator: " "))\n\(output)(exit \(status))\n"
            let difference = try Golden.compare(
                Array(transcript.utf8), toFile: Self.fixtures + "/transcripts/\(name).txt")
            #expect(difference == nil, "\(name): \(difference ?? "")")
        }
    }
}
