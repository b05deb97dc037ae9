import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// The on-disk outbox: numbering that survives restarts, bounds with the drop reported, corrupt files
/// set aside, nothing removed before acknowledgement.
@Suite struct OutboxTests {
    static func report(_ sequence: UInt64, _ dropped: UInt64, padding: Int = 0) -> Report {
        Report(
            agentID: "agent1", instance: "social.example", sequence: sequence, collectedAt: Date(), sentAt: Date(),
            agentVersion: "0.1.0", intervalSeconds: 60, host: HostFacts(hostname: "h"),
            results: [
                CheckResult(
                    checkID: "disk", status: .ok, summary: "ok" + String(repeating: "x", count: padding),
                    durationMilliseconds: 1)
            ], outboxDropped: dropped > 0 ? dropped : nil)
    }

    @Test func sequencesSurviveRestartsAndRemovalIsOnlyByAcknowledgement() throws {
        let state = try TemporaryDirectory("herd-outbox")
        defer { state.remove() }
        var outbox = try Outbox(stateDirectory: state.path)
        for _ in 0..<3 { _ = try outbox.append { Self.report($0, $1) } }
        #expect(outbox.pending() == [1, 2, 3])
        #expect(outbox.oldest()?.sequence == 1)
        outbox.remove(1)
        outbox.remove(2)
        outbox.remove(3)
        // A new process: numbering continues, even with an empty outbox.
        outbox = try Outbox(stateDirectory: state.path)
        #expect(try outbox.append { Self.report($0, $1) }.sequence == 4)
        var info = stat()
        stat(state.file("outbox/00000000000000000004.json"), &info)
        #expect(info.st_mode & 0o777 == 0o600)
    }

    @Test func boundsDropTheOldestAndTheNextReportSaysHowMany() throws {
        let state = try TemporaryDirectory("herd-outbox")
        defer { state.remove() }
        let outbox = try Outbox(stateDirectory: state.path, maxCount: 3)
        var reported: UInt64 = 0
        for _ in 0..<10 { reported += try outbox.append { Self.report($0, $1) }.outboxDropped ?? 0 }
        #expect(outbox.pending() == [8, 9, 10])
        // Every drop is told in a later report (the last one's in the next to come).
        let next = try outbox.append { Self.report($0, $1) }
        #expect(reported + (next.outboxDropped ?? 0) == 7)
        let byBytes = try Outbox(stateDirectory: state.file("b"), maxCount: 1000, maxBytes: 64 << 10)
        for _ in 0..<10 { _ = try byBytes.append { Self.report($0, $1, padding: 400) } }
        let sizes = byBytes.pending().count
        #expect(sizes < 200 && sizes > 0)
    }

    @Test func aCorruptFileIsSetAsideAndCounted() throws {
        let state = try TemporaryDirectory("herd-outbox")
        defer { state.remove() }
        let outbox = try Outbox(stateDirectory: state.path)
        _ = try outbox.append { Self.report($0, $1) }
        _ = try outbox.append { Self.report($0, $1) }
        try state.write("outbox/00000000000000000001.json", [0xFF, 0x00, 0x7B])
        #expect(outbox.oldest()?.sequence == 2)
        #expect(FileManager.default.fileExists(atPath: state.file("outbox/00000000000000000001.json.corrupt")))
        #expect(try outbox.append { Self.report($0, $1) }.outboxDropped == 1)
    }

    /// Command results share the reports' sequence, come out in order, and the bounds never drop one:
    /// it is the only record of what ran on the host.
    @Test func commandResultsShareTheSequenceAndAreNeverDropped() throws {
        let state = try TemporaryDirectory("herd-outbox")
        defer { state.remove() }
        let outbox = try Outbox(stateDirectory: state.path, maxCount: 2)
        _ = try outbox.append { Self.report($0, $1) }
        let result = try outbox.append { sequence in
            CommandResult(
                commandID: "0b7c0a8e-9a53-4c33-9a4c-6f0e1d2c3b4a", agentID: "agent1", instance: "social.example",
                sequence: sequence, sentAt: Date(), outcome: .succeeded, detail: "done", exitCode: 0)
        }
        #expect(result.sequence == 2)
        for _ in 0..<5 { _ = try outbox.append { Self.report($0, $1) } }
        #expect(outbox.pending() == [2, 7])  // the reports beside it went; the result stayed
        while let message = outbox.oldest(), message.sequence < 2 { outbox.remove(message.sequence) }
        guard case .result(let stored) = outbox.oldest() else {
            Issue.record("the command result is not next")
            return
        }
        #expect(stored.commandID == result.commandID && stored.outcome == .succeeded && stored.exitCode == 0)
        outbox.remove(2)
        #expect(!outbox.pending().contains(2))
    }

    /// The controller has accepted past what this outbox numbers (its state dir restored from a
    /// snapshot): waiting messages move past that, in order, each keeping its content, and the counter
    /// never hands out a moved number again.
    @Test func renumberingMovesEveryWaitingMessagePastTheControllersLast() throws {
        let state = try TemporaryDirectory("herd-outbox")
        defer { state.remove() }
        let outbox = try Outbox(stateDirectory: state.path)
        for _ in 0..<3 { _ = try outbox.append { Self.report($0, $1) } }
        _ = try outbox.append { sequence in
            CommandResult(
                commandID: "0b7c0a8e-9a53-4c33-9a4c-6f0e1d2c3b4a", agentID: "agent1", instance: "social.example",
                sequence: sequence, sentAt: Date(), outcome: .succeeded, detail: "done", exitCode: 0)
        }
        for _ in 0..<2 { _ = try outbox.append { Self.report($0, $1) } }
        outbox.remove(1)  // 2…6 wait; the controller has 4 (two of ours overlap what it took)
        let moves = try outbox.renumber(after: 4)
        #expect(moves.map(\.from) == [2, 3, 4, 5, 6] && moves.map(\.to) == [5, 6, 7, 8, 9])
        #expect(outbox.pending() == [5, 6, 7, 8, 9])
        var seen: [UInt64] = []
        while let message = outbox.oldest() {
            seen.append(message.sequence)
            if message.sequence == 7 {
                guard case .result(let result) = message else {
                    Issue.record("the command result did not keep its place")
                    return
                }
                #expect(result.sequence == 7 && result.detail == "done")
            }
            outbox.remove(message.sequence)
        }
        #expect(seen == [5, 6, 7, 8, 9])
        #expect(try outbox.append { Self.report($0, $1) }.sequence == 10)
        outbox.remove(10)
        // Far ahead with nothing waiting: the counter follows.
        #expect(try outbox.renumber(after: 1000).isEmpty)
        #expect(try outbox.append { Self.report($0, $1) }.sequence == 1001)
        // A gap already past the mark stays as it is.
        #expect(try outbox.renumber(after: 5).isEmpty)
        #expect(outbox.pending() == [1001])
        // Never past the protocol's largest sequence.
        #expect(throws: SecureFileError.self) { try outbox.renumber(after: Limits.maxSequence) }
        #expect(outbox.pending() == [1001])
    }
}
