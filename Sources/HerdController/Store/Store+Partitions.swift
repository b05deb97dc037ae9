import Foundation
import HerdProtocol

/// On PostgreSQL `history` is partitioned by UTC day of `collected_at` (`history_d<days since the
/// epoch>`), so that retention drops a day's partition instead of deleting its rows one by one (no
/// dead tuples, no vacuum debt, no index bloat). A day's partition is made before the first ingest
/// transaction that needs it, in a short transaction of its own; each process remembers the days it
/// has seen. SQLite keeps one table.
extension Store {
    static let dayMilliseconds: Int64 = 86_400_000

    /// The UTC day (since the epoch) of a history key.
    static func historyDay(_ key: Int64) -> Int64 { (key - key.modulo(dayMilliseconds)) / dayMilliseconds }

    static func partitionName(day: Int64) -> String { day < 0 ? "history_dm\(-day)" : "history_d\(day)" }

    static func partitionDay(_ name: String) -> Int64? {
        if name.hasPrefix("history_dm") { return Int64(name.dropFirst("history_dm".count)).map { -$0 } }
        if name.hasPrefix("history_d") { return Int64(name.dropFirst("history_d".count)) }
        return nil
    }

    /// Makes the partitions of the days `keys` fall in (and of the next second's day: a key moved on by
    /// a collision, `appendHistory`), unless this process made or saw them already.
    func ensureHistoryPartitions(forKeys keys: [Int64]) async throws {
        guard case .postgresql(let writer, _) = engine, partitionedHistory else { return }
        let days = Set(keys.flatMap { [Self.historyDay($0), Self.historyDay($0 + 1_000)] })
        let missing = historyPartitions.withLock { days.subtracting($0) }
        guard !missing.isEmpty else { return }
        try await writer.run(nil) { db in
            for day in missing.sorted() { try Self.createHistoryPartition(day: day, in: db) }
        }
        historyPartitions.withLock { $0.formUnion(missing) }
    }

    static func createHistoryPartition(day: Int64, in db: any SQLDatabase) throws {
        do {
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS \(partitionName(day: day)) PARTITION OF history
                    FOR VALUES FROM (\(day * dayMilliseconds)) TO (\((day + 1) * dayMilliseconds))
                    """)
        } catch let error as SQLError where ["42P07", "23505"].contains(error.sqlState) {
            // Another replica made it at the same moment: `IF NOT EXISTS` looked before it had committed.
        }
    }

    /// Drops the day partitions that end at or before `cutoff` (a history key); returns how many
    /// reports they held and how many partitions went. PostgreSQL only.
    static func dropHistoryPartitions(before cutoff: Int64, in db: any SQLDatabase) throws -> (
        reports: Int, days: [Int64]
    ) {
        let days = try String.fetchAll(
            db,
            sql: """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'history'::regclass
                """
        ).compactMap(partitionDay).filter { ($0 + 1) * dayMilliseconds <= cutoff }.sorted()
        var reports = 0
        for day in days {
            let name = partitionName(day: day)
            reports += try Int.fetchOne(db, sql: "SELECT count(*) FROM \(name)") ?? 0
            try db.execute(sql: "DROP TABLE \(name)")
        }
        return (reports, days)
    }
}
