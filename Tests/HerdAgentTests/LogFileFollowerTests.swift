import Foundation
import HerdAgent
import HerdTestSupport
import Testing

@Suite struct LogFileFollowerTests {
    let dir: TemporaryDirectory
    let follower: LogFileFollower

    init() throws {
        dir = try TemporaryDirectory("herd-follow")
        follower = LogFileFollower(filesystem: HostFilesystem(root: dir.path), maxBytes: 1024)
    }

    func follow(_ from: LogFileFollower.Position?) throws -> (lines: [String], progress: LogFileFollower.Progress) {
        var lines: [String] = []
        let progress = try follower.follow("/app.log", from: from) { line, _ in
            lines.append(String(decoding: line, as: UTF8.self))
        }
        return (lines, progress)
    }

    @Test func readsOnlyWhatIsNewAndWaitsForHalfWrittenLines() throws {
        defer { dir.remove() }
        try dir.write("app.log", "old 1\nold 2\n")
        let first = try follow(nil)
        #expect(first.lines == ["old 1", "old 2"])
        try dir.append("app.log", "new 1\nhalf")
        let second = try follow(first.progress.position)
        #expect(second.lines == ["new 1"])
        try dir.append("app.log", " done\n")
        #expect(try follow(second.progress.position).lines == ["half done"])
    }

    @Test func firstSightReadsOnlyTheTailFromALineStart() throws {
        defer { dir.remove() }
        let body = (0..<200).map { "line \($0) padding padding" }.joined(separator: "\n") + "\n"
        try dir.write("app.log", body)
        let result = try follow(nil)
        #expect(result.progress.bytes <= 1024)
        #expect(result.lines.last == "line 199 padding padding")
        #expect(result.lines.first?.hasPrefix("line ") == true)
    }

    @Test func renameRotationFinishesTheOldFileThenReadsTheNewOne() throws {
        defer { dir.remove() }
        try dir.write("app.log", "a\n")
        let first = try follow(nil)
        try dir.append("app.log", "b\n")
        try FileManager.default.moveItem(atPath: dir.file("app.log"), toPath: dir.file("app.log.1"))
        try dir.write("app.log", "c\n")
        let second = try follow(first.progress.position)
        #expect(second.lines == ["b", "c"])
        #expect(second.progress.rotated)
    }

    @Test func copytruncateStartsAgainAtZero() throws {
        defer { dir.remove() }
        try dir.write("app.log", "one long line before truncation\n")
        let first = try follow(nil)
        #expect(truncate(dir.file("app.log"), 0) == 0)  // same inode, as logrotate's copytruncate
        try dir.append("app.log", "after\n")
        let second = try follow(first.progress.position)
        #expect(second.lines == ["after"])
        #expect(second.progress.truncatedInPlace)
    }

    @Test func aDeletedLogIsAClearError() throws {
        defer { dir.remove() }
        try dir.write("app.log", "x\n")
        let first = try follow(nil)
        try FileManager.default.removeItem(atPath: dir.file("app.log"))
        #expect(throws: HostError.self) { try follow(first.progress.position) }
    }

    @Test func aLineLongerThanTheCycleCapStillMovesOn() throws {
        defer { dir.remove() }
        try dir.write("app.log", "")
        let start = try follow(nil)
        try dir.append("app.log", String(repeating: "x", count: 5000) + "\nnext\n")
        var position = start.progress.position
        var seen: [String] = []
        for _ in 0..<8 {
            let step = try follow(position)
            seen += step.lines
            position = step.progress.position
        }
        #expect(seen.contains("next"))
        #expect(position.offset == 5006)
    }

    @Test func aFIFOIsRefusedNotBlockedOn() throws {
        defer { dir.remove() }
        #expect(mkfifo(dir.file("app.log"), 0o600) == 0)
        #expect(throws: HostError.self) { try follow(nil) }
    }
}

@Suite struct ProcessRunnerTests {
    let environment = ["PATH": "/usr/bin:/bin"]

    @Test func runsAnArgvAndCollectsOutput() throws {
        let outcome = try SpawnProcessRunner().run(
            ProcessRequest(
                "printf", ["%s|", "a b", "$(id)", ";rm -rf /"], environment: environment, timeout: .seconds(5)))
        #expect(outcome.succeeded)
        #expect(String(decoding: outcome.stdout, as: UTF8.self) == "a b|$(id)|;rm -rf /|")
    }

    @Test func killsAtTheTimeout() throws {
        let started = ContinuousClock.now
        let outcome = try SpawnProcessRunner().run(
            ProcessRequest("sleep", ["30"], environment: environment, timeout: .milliseconds(300)))
        #expect(outcome.timedOut)
        #expect(!outcome.succeeded)
        #expect(started.duration(to: .now) < .seconds(20))
    }

    @Test func stopsWhenTheReaderHasEnough() throws {
        var seen = 0
        let outcome = try SpawnProcessRunner().run(
            ProcessRequest("yes", [], environment: environment, timeout: .seconds(10))
        ) { chunk in
            seen += chunk.count
            return seen < 100_000
        }
        #expect(outcome.stoppedEarly)
        #expect(!outcome.timedOut)
    }

    @Test func capsCollectedOutputAndKeepsStderr() throws {
        let outcome = try SpawnProcessRunner().run(
            ProcessRequest(
                "sh", ["-c", "head -c 100000 /dev/zero; echo oops >&2; exit 3"], environment: environment,
                timeout: .seconds(5), maxOutputBytes: 1000))
        #expect(outcome.stdout.count == 1000)
        #expect(outcome.stdoutTruncated)
        #expect(outcome.termination == .exited(3))
        #expect(outcome.stderrLine == "oops")
    }

    @Test func aMissingCommandIsNotFound() {
        #expect {
            try SpawnProcessRunner().run(
                ProcessRequest("no-such-tool", [], environment: environment, timeout: .seconds(1)))
        } throws: { ($0 as? HostError)?.kind == .notFound }
    }
}
