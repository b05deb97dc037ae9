import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// Real journal files, built by systemd-journal-remote from export-format entries and read back by
/// journalctl, through the logs check: incremental by cursor, binary messages, an expired cursor.
@Suite struct JournalTests {
    static func web(_ message: String) -> JournalFile.Entry {
        JournalFile.entry(unit: "mastodon-web.service", identifier: "bundle", pid: 27, message: message)
    }

    static func runner(_ directory: String, store: any CheckMemoryStore) -> CheckRunner {
        var configuration = AgentConfiguration()
        configuration.journalDirectory = directory
        return CheckRunner(
            checks: [ApplicationLogsCheck()], host: .live(configuration), configuration: configuration, store: store,
            signatures: SignatureMatcher(table: .builtIn))
    }

    @Test func readsMastodonUnitsIncrementallyByCursor() async throws {
        let dir = try TemporaryDirectory("herd-journal")
        defer { dir.remove() }
        let pool =
            "I, [2025-04-22T03:10:54.777617 #27]  INFO -- : [b3c1] method=POST path=/api/v1/statuses format=html controller=Api::V1::StatusesController action=create status=500 error='ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use' allocations=1234 duration=5012.34 view=0.00 db=0.00"
        var binary = Array("I, [2025-04-22T03:10:55.000000 #27]  INFO -- : [b3c2] method=GET path=/tags/caf".utf8)
        binary += [0xE9, 0xFF] + Array(" format=html status=200 duration=3.00".utf8)
        try JournalFile.build(
            [
                Self.web(pool),
                Self.web(
                    "I, [2025-04-22T03:10:54.800000 #27]  INFO -- : [b3c3] method=GET path=/health format=html status=200 duration=0.5"
                ),
                [("_SYSTEMD_UNIT", Array("mastodon-web.service".utf8)), ("MESSAGE", binary)],
                JournalFile.entry(
                    unit: "mastodon-sidekiq.service", identifier: "bundle", pid: 28,
                    message:
                        "\u{1B}[1;34mINFO \u{1B}[0m 2026-01-12T00:14:00.750Z pid=28 tid=2abc class=FetchReplyWorker jid=bb22 elapsed=8.7: fail"
                ),
                JournalFile.entry(
                    unit: "sshd.service", identifier: "sshd", pid: 5,
                    message: "Accepted publickey status=500 method=GET"),
            ], in: dir.path)

        let store = EphemeralMemoryStore()
        // A first cycle "now" reads the last interval only; the fixture's entries are from 2025, so
        // point the clock's interval at them by starting from an old cursor-less window.
        let first = await Self.runner(dir.path, store: store).runCycleWindow(since: 1_745_291_000)
        #expect(first.status == .critical, "\(first.summary)")
        #expect(first.metrics["requests"] == 3)
        #expect(first.metrics["requests_500"] == 1)
        #expect(first.metrics["posting.failures"] == 1)
        #expect(first.metrics["sidekiq.jobs_failed"] == 1)
        #expect(first.findings.first?.category == .dbPoolExhausted)

        // Nothing new: nothing counted.
        let second = await Self.runner(dir.path, store: store).runCycle()[0]
        #expect(second.metrics["lines"] == 0, "\(second.summary)")

        try JournalFile.build(
            [
                Self.web(
                    "I, [2025-04-22T03:11:00.000000 #27]  INFO -- : [b3c4] method=GET path=/about status=200 duration=1"
                )
            ],
            in: dir.path, firstMicroseconds: 1_745_291_460_000_000)
        let third = await Self.runner(dir.path, store: store).runCycle()[0]
        #expect(third.metrics["requests"] == 1, "\(third.summary)")
    }

    @Test func expiredCursorFallsBackToTheInterval() async throws {
        let dir = try TemporaryDirectory("herd-journal")
        defer { dir.remove() }
        try JournalFile.build([Self.web("hello")], in: dir.path)
        let store = EphemeralMemoryStore()
        try store.save(CheckMemory(strings: ["journal.cursor": "s=0000;i=1;b=0;m=0;t=0;x=0"]), for: "logs")
        let result = await Self.runner(dir.path, store: store).runCycle()[0]
        #expect(result.status != .unknown, "\(result.summary)")
        #expect(result.summary.contains("cursor expired"))
    }

    @Test func missingJournalctlIsUnknownWithTheReason() async throws {
        var configuration = AgentConfiguration()
        configuration.commandPath = "/nonexistent"
        let runner = CheckRunner(
            checks: [ApplicationLogsCheck()], host: .live(configuration), configuration: configuration,
            store: EphemeralMemoryStore(), signatures: SignatureMatcher(table: .builtIn))
        let result = await runner.runCycle()[0]
        #expect(result.status == .unknown)
        #expect(result.summary.contains("journalctl: not found"))
    }
}

extension CheckRunner {
    /// One cycle of the first check with the clock set so that "the last interval" starts at `since`.
    fileprivate func runCycleWindow(since: TimeInterval) async -> CheckResult {
        var host = self.host
        host.clock = FixedClock(Date(timeIntervalSince1970: since + Double(configuration.intervalSeconds)))
        let runner = CheckRunner(
            checks: checks, host: host, configuration: configuration, store: store, signatures: signatures)
        return await runner.runCycle()[0]
    }
}
