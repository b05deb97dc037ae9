import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// What a real host throws at the log checks: garbage, giant lines, broken UTF-8, logs that vanish or
/// shrink between cycles, paths that are not files. Clear results, no crash, bounded memory.
@Suite struct HostileInputTests {
    let dir: TemporaryDirectory
    let store = EphemeralMemoryStore()

    init() throws {
        dir = try TemporaryDirectory("herd-hostile")
    }

    func cycle(_ log: String = "/production.log", cap: Int? = nil) async -> CheckResult {
        var configuration = AgentConfiguration()
        configuration.hostRoot = dir.path
        configuration.logsFromJournal = false
        configuration.logFiles = [log]
        if let cap { configuration.logsMaxBytesPerCycle = cap }
        let runner = CheckRunner(
            checks: [ApplicationLogsCheck()], host: .live(configuration), configuration: configuration, store: store,
            signatures: SignatureMatcher(table: .builtIn))
        return await runner.runCycle()[0]
    }

    @Test func garbageGiantLinesAndBrokenUTF8AreCountedNotFatal() async throws {
        defer { dir.remove() }
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes += Array("\nmethod=GET path=/x status=500 error='PG::ConnectionBad: could not connect to server'\n".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "A"), count: 10 << 20) + [0x0A]
        bytes += [0xC3, 0x28, 0xE2, 0x82, 0x0A, 0xF0, 0x9F, 0x92] + Array(" Errno::ENOSPC \u{1B}[31m\n".utf8)
        try dir.write("production.log", [])
        _ = await cycle()  // first sight: empty
        try dir.write("production.log", bytes)
        let result = await cycle()
        #expect(result.status == .critical, "\(result.summary)")
        try result.validate()
        #expect(result.metrics["requests_500"] == 1)
        #expect(result.findings.contains { $0.category == .dbConnection })
        #expect(result.findings.contains { $0.category == .diskFull })
        #expect((result.metrics["truncated_lines"] ?? 0) >= 1)
    }

    /// A log that writes more per cycle than the cap falls behind for good: a warning, never ok.
    @Test func aLogThatOutrunsTheReadCapIsAWarning() async throws {
        defer { dir.remove() }
        try dir.write("production.log", [])
        _ = await cycle(cap: 65_536)
        let healthy = String(
            repeating: "method=GET path=/api/v1/timelines/home format=json status=200 duration=4.2\n", count: 2_000)
        try dir.append("production.log", healthy)
        let behind = await cycle(cap: 65_536)
        #expect(behind.status == .warning, "\(behind.summary)")
        #expect(behind.summary.contains("behind: read cap reached") && behind.metrics["lagging"] == 1)
        let caughtUp = await cycle(cap: 1 << 20)
        #expect(caughtUp.status == .ok && caughtUp.metrics["lagging"] == 0, "\(caughtUp.summary)")
    }

    @Test func aLogDeletedOrTruncatedBetweenCyclesIsHandled() async throws {
        defer { dir.remove() }
        try dir.write("production.log", "method=GET path=/ status=200\n")
        _ = await cycle()
        #expect(truncate(dir.file("production.log"), 0) == 0)
        try dir.append("production.log", "method=GET path=/ status=502\n")
        let truncated = await cycle()
        #expect(truncated.metrics["requests_5xx"] == 1, "\(truncated.summary)")
        try FileManager.default.removeItem(atPath: dir.file("production.log"))
        let deleted = await cycle()
        #expect(deleted.status == .unknown)
        #expect(deleted.summary.contains("/production.log: No such file or directory"))
    }

    @Test func aDirectoryOrDeviceIsRefused() async throws {
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("dir.log"), withIntermediateDirectories: true)
        let result = await cycle("/dir.log")
        #expect(result.status == .unknown)
        #expect(result.summary.contains("is a directory"))
    }

    @Test(.enabled(if: getuid() != 0, "root reads any file")) func anUnreadableLogIsUnknownWithTheReason() async throws
    {
        defer { dir.remove() }
        try dir.write("production.log", "x\n")
        chmod(dir.file("production.log"), 0)
        let result = await cycle()
        #expect(result.status == .unknown)
        #expect(result.summary.contains("Permission denied"))
    }

    @Test func scanLogSurvivesGarbageOnStandardInput() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProduct.path("herd-agent"))
        process.arguments = ["scan-log", "--json", "-"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        var generator = SystemRandomNumberGenerator()
        input.fileHandleForWriting.write(
            Data((0..<2_000_000).map { _ in UInt8.random(in: 0...255, using: &generator) }))
        try input.fileHandleForWriting.close()
        let json = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try JSONValue.parse(Array(json))["lines"]?.numberValue ?? 0 > 0)
    }
}
