import Foundation
import HerdAgent
import HerdTestSupport
import Testing

/// `herd-agent scan-log` run as a process, as an admin would.
@Suite struct ScanLogTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], stdin: Data? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProduct.path("herd-agent"))
        process.arguments = ["scan-log"] + arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { try input.fileHandleForWriting.write(contentsOf: stdin) }
        try input.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }

    static func temporaryFile(_ data: Data) throws -> String {
        let path = NSTemporaryDirectory() + "herd-scan-\(UUID().uuidString).log"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    static func findings(_ run: Run) throws -> [JSONValue] {
        try #require(try JSONValue.parse(Array(run.stdout.utf8))["findings"]?.arrayValue)
    }

    @Test func classifiesAJournalExportWithByteArrayMessages() throws {
        let log = """
            {"__CURSOR":"s=1","_SYSTEMD_UNIT":"mastodon-web.service","MESSAGE":"[b3c1] method=POST path=/api/v1/statuses status=500 error='ActiveRecord::ConnectionTimeoutError: could not obtain a connection'"}
            {"__CURSOR":"s=2","_SYSTEMD_UNIT":"mastodon-sidekiq.service","MESSAGE":[69,114,114,110,111,58,58,69,78,79,83,80,67,58,32,255,254]}
            {"__CURSOR":"s=3","_SYSTEMD_UNIT":"mastodon-web.service","MESSAGE":"method=GET path=/health status=200"}
            """
        let path = try Self.temporaryFile(Data(log.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Self.run(["--format", "journal-json", "--json", path])
        #expect(run.status == 0, "\(run.stderr)")
        let categories = try Self.findings(run).compactMap { $0["category"]?.stringValue }.sorted()
        #expect(categories == ["db_pool_exhausted", "disk_full"])
    }

    @Test func readsStandardInputAndPrintsATable() throws {
        let run = try Self.run(["-"], stdin: Data("Errno::ENOSPC: No space left on device\nok\n".utf8))
        #expect(run.status == 0)
        #expect(run.stdout.contains("2 lines, 2 events, 1 signatures matched"))
        #expect(run.stdout.contains("disk_full"))
    }

    @Test func binaryGarbageIsReadNotFeared() throws {
        var generator = SystemRandomNumberGenerator()
        let garbage = Data((0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let path = try Self.temporaryFile(garbage + Data("\nPG::ConnectionBad: boom\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Self.run(["--json", path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.findings(run).contains { $0["category"]?.stringValue == "db_connection" })
    }

    @Test func aTenMegabyteLineIsCutNotSwallowed() throws {
        var data = Data(repeating: UInt8(ascii: "x"), count: 10 << 20)
        data.append(
            contentsOf: Array("\nRedis::CannotConnectError: Error connecting to Redis on 127.0.0.1:6379\n".utf8))
        let path = try Self.temporaryFile(data)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Self.run(["--json", path])
        #expect(run.status == 0, "\(run.stderr)")
        let document = try JSONValue.parse(Array(run.stdout.utf8))
        #expect(document["truncated_lines"]?.numberValue == 1)
        #expect(document["lines"]?.numberValue == 2)
        #expect(try Self.findings(run).first?["first_line"]?.numberValue == 2)
    }

    @Test func operatorSignaturesExtendAndBadOnesAreRefused() throws {
        let log = try Self.temporaryFile(Data("Request to https://gone.example returned code 410\n".utf8))
        let good = try Self.temporaryFile(Data("federation_remote_failure\tRemote 410\treturned code 410\n".utf8))
        let bad = try Self.temporaryFile(Data("# ok\nNot An Identifier\tx\ty\n".utf8))
        defer { for p in [log, good, bad] { try? FileManager.default.removeItem(atPath: p) } }
        let extended = try Self.run(["--json", "--signatures", good, log])
        #expect(try Self.findings(extended).first?["signature"]?.stringValue == "Remote 410")
        let refused = try Self.run(["--signatures", bad, log])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("\(bad):2: finding.category"))
    }

    @Test(arguments: [
        (["/nonexistent/herd.log"], Int32(1), "cannot open /nonexistent/herd.log: No such file or directory"),
        (["/"], Int32(1), "cannot read /"),
        (["--format", "xml", "-"], Int32(64), "The value 'xml' is invalid"),
        (["a", "b"], Int32(64), "Unexpected argument"),
    ])
    func unusableInputIsAClearError(arguments: [String], status: Int32, message: String) throws {
        let run = try Self.run(arguments)
        #expect(run.status == status)
        #expect(run.stderr.contains(message), "\(run.stderr)")
    }
}
