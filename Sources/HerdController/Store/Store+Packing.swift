import Foundation
import HerdProtocol

/// Packing: once a UTC day of history is over (by `packGraceSeconds`), each instance's blocks of it
/// move from a row per report in `history` to a row per block in `history_packed` (`PackedBlock`), the
/// frames unchanged. On PostgreSQL the day's `history` partition is then dropped whole (locked while
/// it is packed, so no late report slips in between); on SQLite the day's rows are deleted, an
/// instance at a time. A report that arrives for a packed day later still lands in `history` and is
/// packed by the next pass.
extension Store {
    /// How long after a UTC day ends it is packed: reports collected that day and held up in an agent's
    /// outbox or by a slow network arrive before this, and are appended the ordinary way.
    static let packGraceSeconds: Double = 3_600

    /// Whether a report collected at `key` and received at `receivedAt` may belong to a day already
    /// packed (on any replica: with half the grace to spare for clocks that differ).
    static func mayBePacked(key: Int64, receivedAt: Double) -> Bool {
        (historyDay(key) + 1) * dayMilliseconds <= historyKey(receivedAt - packGraceSeconds / 2)
    }

    /// Packs every day of history that ended at least `packGraceSeconds` before `now` and after
    /// `keepFrom` (older days are about to be pruned): returns how many reports moved.
    func pack(now: Double, keepFrom: Int64) async throws -> (reports: Int, transactions: Int) {
        let cutoff = Self.historyKey(now - Self.packGraceSeconds)
        var reports = 0
        var transactions = 0
        func packable(_ day: Int64) -> Bool {
            (day + 1) * Self.dayMilliseconds <= cutoff && (day + 1) * Self.dayMilliseconds > keepFrom
        }
        if partitionedHistory {
            let days = try await read { db in try Self.partitionDays("history", in: db) }.filter(packable)
            for day in days {
                reports += try await writeAsLeader { db -> Int in
                    let name = Self.partitionName(day: day)
                    try db.execute(sql: "LOCK TABLE \(name) IN ACCESS EXCLUSIVE MODE")
                    try Self.createHistoryPartition("history_packed", day: day, in: db)
                    let instances = try Int64.fetchAll(db, sql: "SELECT DISTINCT instance_id FROM \(name)")
                    var moved = 0
                    for instanceID in instances { moved += try Self.packDay(day, instanceID: instanceID, in: db) }
                    try db.execute(sql: "DROP TABLE \(name)")
                    return moved
                }
                historyPartitions.withLock { _ = $0.remove(day) }
                transactions += 1
            }
            return (reports, transactions)
        }
        let instances = try await read { db in try Int64.fetchAll(db, sql: "SELECT id FROM instances") }
        for instanceID in instances {
            var from = keepFrom
            // Day by day, each the day of the instance's oldest row not yet packed.
            while true {
                let after = from
                guard
                    let key = try await read({ db in
                        try Int64.fetchOne(
                            db,
                            sql: "SELECT min(collected_at) FROM history WHERE instance_id = ? AND collected_at >= ?",
                            arguments: [instanceID, after])
                    })
                else { break }
                let day = Self.historyDay(key)
                guard packable(day) else { break }
                reports += try await writeAsLeader { db in
                    let moved = try Self.packDay(day, instanceID: instanceID, in: db)
                    try db.execute(
                        sql: "DELETE FROM history WHERE instance_id = ? AND collected_at >= ? AND collected_at < ?",
                        arguments: [instanceID, day * Self.dayMilliseconds, (day + 1) * Self.dayMilliseconds])
                    return moved
                }
                transactions += 1
                from = (day + 1) * Self.dayMilliseconds
            }
        }
        return (reports, transactions)
    }

    /// Writes one instance's rows of `day` in `history` as packed blocks, each merged with the block's
    /// packed row if it has one; returns how many rows it packed. The caller removes the rows.
    static func packDay(_ day: Int64, instanceID: Int64, in db: any SQLDatabase) throws -> Int {
        let keys = try Int64.fetchAll(
            db,
            sql: "SELECT collected_at FROM history WHERE instance_id = ? AND collected_at >= ? AND collected_at < ?",
            arguments: [instanceID, day * dayMilliseconds, (day + 1) * dayMilliseconds])
        for start in Set(keys.map(blockStart)).sorted() {
            let entries = try storedEntries(instanceID: instanceID, from: start, to: start + blockMilliseconds, in: db)
            try db.execute(
                sql: """
                    INSERT INTO history_packed (instance_id, block_start, reports, entries) VALUES (?, ?, ?, ?)
                    ON CONFLICT (instance_id, block_start) DO UPDATE SET
                        reports = excluded.reports, entries = excluded.entries
                    """,
                arguments: [
                    instanceID, start, Int64(entries.count), PackedBlock(start: start, entries: entries).encode(),
                ])
        }
        return keys.count
    }
}
