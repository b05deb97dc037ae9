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

    /// A day's partition of `table` (`history` or `history_packed`): `history_d20426`.
    static func partitionName(_ table: String = "history", day: Int64) -> String {
        day < 0 ? "\(table)_dm\(-day)" : "\(table)_d\(day)"
    }

    /// The day a partition of `table` holds, from its name.
    static func partitionDay(_ name: String, of table: String = "history") -> Int64? {
        if name.hasPrefix(table + "_dm") { return Int64(name.dropFirst(table.count + 3)).map { -$0 } }
        if name.hasPrefix(table + "_d") { return Int64(name.dropFirst(table.count + 2)) }
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

    static func createHistoryPartition(_ table: String = "history", day: Int64, in db: any SQLDatabase) throws {
        do {
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS \(partitionName(table, day: day)) PARTITION OF \(table)
                    FOR VALUES FROM (\(day * dayMilliseconds)) TO (\((day + 1) * dayMilliseconds))
                    """)
        } catch let error as SQLError where ["42P07", "23505"].contains(error.sqlState) {
            // Another replica made it at the same moment: `IF NOT EXISTS` looked before it had committed.
        }
    }

    /// The days `table` has partitions for, oldest first. PostgreSQL only.
    static func partitionDays(_ table: String, in db: any SQLDatabase) throws -> [Int64] {
        try String.fetchAll(
            db,
            sql: """
                SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = '\(table)'::regclass
                """
        ).compactMap { partitionDay($0, of: table) }.sorted()
    }

    /// Drops the day partitions of `history` and `history_packed` that end at or before `cutoff` (a
    /// history key); returns how many reports they held and the days `history` lost. PostgreSQL only.
    static func dropHistoryPartitions(before cutoff: Int64, in db: any SQLDatabase) throws -> (
        reports: Int, days: [Int64]
    ) {
        func expired(_ table: String) throws -> [Int64] {
            try partitionDays(table, in: db).filter { ($0 + 1) * dayMilliseconds <= cutoff }
        }
        var reports = 0
        let days = try expired("history")
        for day in days {
            let name = partitionName(day: day)
            reports += try Int.fetchOne(db, sql: "SELECT count(*) FROM \(name)") ?? 0
            try db.execute(sql: "DROP TABLE \(name)")
        }
        for day in try expired("history_packed") {
            let name = partitionName("history_packed", day: day)
            reports += try Int.fetchOne(db, sql: "SELECT coalesce(sum(reports), 0) FROM \(name)") ?? 0
            try db.execute(sql: "DROP TABLE \(name)")
        }
        return (reports, days)
    }
}
