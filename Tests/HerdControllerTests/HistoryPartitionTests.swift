import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// History partitioned by day on PostgreSQL: a store made before partitions is converted in place, and
/// a late report for a day another replica's retention dropped makes its day again.
@Suite struct HistoryPartitionTests {
    static func partitions(_ store: Store) async throws -> [String] {
        try await store.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                    WHERE i.inhparent = 'history'::regclass ORDER BY c.relname
                    """)
        }
    }

    @Test func aStoreFromBeforePartitionsIsConvertedInPlace() async throws {
        let settings = try PostgresStoreSettings(url: try TestPostgres.newDatabase())
        let old = try Store(postgres: settings, migrateUpTo: M0008Replicas.identifier)
        let fleet = try StoreTests.Fleet(store: old)
        defer { fleet.directory.remove() }
        let agent = try await fleet.agentBeforeRoles("social.example")
        let start = Date(timeIntervalSince1970: 1_793_491_200)  // 2026-11-01T00:00:00Z
        var written: [HistoryEntry] = []
        for sequence in UInt64(1)...12 {
            let report = fleet.report(
                agentID: agent, instance: "social.example", sequence: sequence,
                statuses: ["disk": .ok, "services": sequence == 5 ? .critical : .ok],
                at: start.addingTimeInterval(Double(sequence - 1) * 6 * 3_600))
            _ = try await old.write([report])
            written.append(
                HistoryEntry(
                    collectedAt: report.report.collectedAt.timeIntervalSince1970, sequence: sequence,
                    results: report.report.results))
        }
        let end = start.addingTimeInterval(4 * 86_400).timeIntervalSince1970
        try old.close()

        let store = try Store(postgres: settings)
        defer { try? store.close() }
        #expect(try store.appliedMigrations().contains(M0009HistoryPartitions.identifier))
        #expect(try await Self.partitions(store) == ["history_d20758", "history_d20759", "history_d20760"])
        #expect(try await store.history(instance: "social.example", since: 0, until: end) == written)
        // Ingest goes on into the partitioned table, numbering after the rows moved across.
        _ = try await store.write([
            fleet.report(
                agentID: agent, instance: "social.example", sequence: 13, statuses: ["disk": .ok],
                at: start.addingTimeInterval(3 * 86_400))
        ])
        #expect(try await Self.partitions(store).last == "history_d20761")
        let ids = try await store.read { db in try Int64.fetchAll(db, sql: "SELECT id FROM history ORDER BY id") }
        #expect(ids.count == 13 && Set(ids).count == 13)
    }

    @Test func aLateReportForADayAnotherReplicaDroppedMakesItsDayAgain() async throws {
        let pair = try ReplicaTests.Pair()
        defer { pair.close() }
        let (a, b, fleet) = (pair.a, pair.b, pair.fleet)
        let (agent, _) = try await fleet.enroll("social.example")
        let now = Date()
        // 23:30 UTC of a day 20 days ago: retention prunes only what is rolled up, which runs to the end of
        // the last hour with a report — here midnight, the end of that day's partition.
        let dayStart = ((now.timeIntervalSince1970 - 20 * 86_400) / 86_400).rounded(.down) * 86_400
        let old = Date(timeIntervalSince1970: dayStart + 23.5 * 3_600)
        #expect(try await a.write([fleet.report(agent, sequence: 1, statuses: ["disk": .ok], at: old)]) == [true])
        let pass = try await b.retain(now: now.timeIntervalSince1970, rawDays: 14, rollupDays: 400)
        #expect(pass.partitionsDropped == 1 && pass.reportsPruned == 1)
        #expect(try await Self.partitions(b).isEmpty)
        // A still believes the day's partition is there: its write finds it gone, makes it, and stores.
        #expect(
            try await a.write([
                fleet.report(agent, sequence: 2, statuses: ["disk": .ok], at: old.addingTimeInterval(60))
            ])
                == [true])
        #expect(try await Self.partitions(b).count == 1)
        let left = try await b.history(instance: "social.example", since: 0, until: now.timeIntervalSince1970)
        #expect(left.map(\.sequence) == [2])
    }
}
