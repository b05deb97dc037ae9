import Foundation
import GRDB
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing

/// History on a real SQLite file: what went in comes out, whatever order the clock gave, and a
/// database holding today's tables is converted in place.
@Suite struct HistoryStoreTests {
    /// An agent whose clock steps back keeps its reports: each frame names the frame it is based on,
    /// so one inserted before later ones in the same hour decodes, and so do they.
    @Test(arguments: StoreKind.allCases) func reportsCollectedOutOfOrderComeBackInOrder(_ kind: StoreKind) async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, _) = try await fleet.enroll("social.example")
        let hour = 1_798_761_600.0  // 2027-01-01T00:00:00Z
        let minutes = [5, 3, 4, 3, 59, 61]  // the second 3 collides with the first: a millisecond later
        for (index, minute) in minutes.enumerated() {
            let status: CheckStatus = index.isMultiple(of: 2) ? .ok : .critical
            _ = try await fleet.store.write([
                fleet.report(
                    agent, sequence: UInt64(index + 1), statuses: ["disk": .ok, "sidekiq": status],
                    at: Date(timeIntervalSince1970: hour + Double(minute * 60)))
            ])
        }
        let history = try await fleet.store.history(instance: "social.example", since: hour, until: hour + 7200)
        #expect(history.map(\.sequence) == [2, 4, 3, 1, 5, 6])
        #expect(history.map(\.collectedAt) == [180, 180.001, 240, 300, 3540, 3660].map { hour + $0 })
        for entry in history {
            let expected = fleet.report(
                agent, sequence: entry.sequence,
                statuses: ["disk": .ok, "sidekiq": (entry.sequence - 1).isMultiple(of: 2) ? .ok : .critical]
            )
            #expect(entry.results == expected.report.results)
        }
        let worst = try await fleet.store.hourlyWorst(instance: "social.example", now: hour + 3700, hours: 2)
        #expect(worst == ["disk": "oo", "sidekiq": "cc"])
    }

    /// A database as 0006 left it — reports, check results with JSON metrics, findings — converted in
    /// place: every result, summary, metric and finding comes back, and the old tables are gone.
    @Test func convertsADatabaseOfTodaysSchema() async throws {
        let directory = try TemporaryDirectory("herd-store")
        defer { directory.remove() }
        let path = directory.file("herd.sqlite")
        try Store(path: path, migrateUpTo: "0006-lost-reports").close()
        let hour = 1_798_761_600.0
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO instances (id, domain, created_at) VALUES (1, 'old.example', 0), (2, 'b.example', 0);
                    INSERT INTO agents (id, instance, state, signing_public_key, signing_key_id, csr_pem,
                        agent_version, hostname, requested_at)
                    VALUES ('agt-a', 'old.example', 'accepted', x'00', 'k1', 'csr', '0.1', 'h', 0),
                        ('agt-b', 'b.example', 'accepted', x'00', 'k2', 'csr', '0.1', 'h', 0);
                    """)
            for minute in 0..<90 {
                for (instance, agent) in [(1, "agt-a"), (2, "agt-b")] {
                    let at = hour + Double(minute * 60) + 0.25
                    let reportID = minute * 2 + instance
                    try db.execute(
                        sql: """
                            INSERT INTO reports (id, instance_id, agent_id, sequence, collected_at, received_at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """, arguments: [reportID, instance, agent, minute + 1, at, at + 1])
                    try db.execute(
                        sql: """
                            INSERT INTO check_results (report_id, check_id, instance_id, collected_at, status, summary,
                                duration_ms, metrics)
                            VALUES (?, 'disk', ?, ?, 0, '/ 61% used', 0.5, ?), (?, 'nginx', ?, ?, ?, ?, 12, NULL)
                            """,
                        arguments: [
                            reportID, instance, at, #"{"used_ratio":0.61,"used_bytes":\#(1000 + minute)}"#,
                            reportID, instance, at, minute % 10 == 0 ? 2 : 0,
                            minute % 10 == 0 ? "upstream timed out 3×" : "no new errors",
                        ])
                    if minute % 10 == 0 {
                        try db.execute(
                            sql: """
                                INSERT INTO findings (report_id, check_id, position, category, signature, count, sample)
                                VALUES (?, 'nginx', 0, 'upstream_timeout', 'upstream timed out', ?, 'a line'),
                                    (?, 'nginx', 1, 'other', 'client closed', 1, NULL)
                                """, arguments: [reportID, minute + 3, reportID])
                    }
                }
            }
        }
        try queue.close()

        let store = try Store(path: path)
        defer { try? store.close() }
        #expect(try await store.count(.history) == 180)
        for instance in ["old.example", "b.example"] {
            let history = try await store.history(instance: instance, since: hour, until: hour + 7200)
            #expect(history.count == 90)
            for (minute, entry) in history.enumerated() {
                #expect(entry.sequence == UInt64(minute + 1))
                #expect(entry.collectedAt == hour + Double(minute * 60) + 0.25)
                let failing = minute % 10 == 0
                #expect(
                    entry.results == [
                        CheckResult(
                            checkID: "disk", status: .ok, summary: "/ 61% used", durationMilliseconds: 0.5,
                            metrics: ["used_ratio": 0.61, "used_bytes": Double(1000 + minute)]),
                        CheckResult(
                            checkID: "nginx", status: failing ? .critical : .ok,
                            summary: failing ? "upstream timed out 3×" : "no new errors", durationMilliseconds: 12,
                            findings: failing
                                ? [
                                    Finding(
                                        category: .upstreamTimeout, signature: "upstream timed out",
                                        count: UInt64(minute + 3), sample: "a line"),
                                    Finding(category: .other, signature: "client closed", count: 1),
                                ] : []),
                    ])
            }
        }
        let reader = try DatabaseQueue(path: path)
        defer { try? reader.close() }
        let tables = try await reader.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        #expect(!tables.contains("reports") && !tables.contains("check_results") && !tables.contains("findings"))
    }
}
