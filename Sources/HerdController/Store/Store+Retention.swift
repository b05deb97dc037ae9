import Foundation
import HerdProtocol

/// What one retention pass did.
public struct RetentionPass: Sendable, Hashable {
    public var hoursRolledUp = 0
    public var reportsPruned = 0
    public var rollupsPruned = 0
    /// Reports moved from a row each to their block's packed row (`Store+Packing.swift`).
    public var reportsPacked = 0
    /// PostgreSQL: the day partitions of history dropped whole (their reports count in `reportsPruned`).
    public var partitionsDropped = 0
    /// Transactions used: each is bounded, so ingest never waits long behind retention.
    public var transactions = 0
}

extension Store {
    static let rolledUpThroughKey = "rollups.through_hour"

    /// Rolls every complete hour up (per instance × check: worst status, counts per status, min/avg/max
    /// of each metric), then prunes raw results older than `rawDays` — only hours already rolled up; on
    /// PostgreSQL whole days by dropping their partitions — and rollups older than `rollupDays`. Each hour and each batch of `batchSize` rows is its own
    /// transaction, so a long pass never holds the writer for long.
    public func retain(now: Double, rawDays: Int, rollupDays: Int, batchSize: Int = 5_000) async throws
        -> RetentionPass
    {
        var pass = RetentionPass()
        let currentHour = (now / 3600).rounded(.down) * 3600

        // Roll up complete hours not yet rolled up, oldest first.
        var hour = try await read { db -> Double? in
            if let through = try String.fetchOne(
                db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [Self.rolledUpThroughKey]),
                let value = Double(through)
            {
                return value
            }
            return try Self.firstHistoryHour(atOrAfter: nil, in: db)
        }
        while let start = hour, start < currentHour {
            let next = try await writeAsLeader { db -> Double? in
                try Self.rollUp(hour: start, in: db)
                try db.execute(
                    sql: """
                        INSERT INTO store_meta (key, value) VALUES (?, ?)
                        ON CONFLICT (key) DO UPDATE SET value = excluded.value
                        """,
                    arguments: [Self.rolledUpThroughKey, String(Int64(start + 3600))])
                // Skip empty hours: jump to the hour of the next report, if any.
                return try Self.firstHistoryHour(atOrAfter: start + 3600, in: db)
            }
            pass.hoursRolledUp += 1
            pass.transactions += 1
            hour = next
        }

        // Prune raw history older than the raw retention, never past what is rolled up, whole blocks at
        // a time (a block decodes on its own), each instance in bounded batches.
        let rolledUp = try await read { db in
            try String.fetchOne(
                db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [Self.rolledUpThroughKey]
            )
            .flatMap(Double.init) ?? 0
        }
        let rawCutoff = Self.blockStart(Self.historyKey(min(now - Double(rawDays) * 86_400, rolledUp)))
        let packed = try await pack(now: now, keepFrom: rawCutoff)
        pass.reportsPacked = packed.reports
        pass.transactions += packed.transactions
        if partitionedHistory {
            let dropped = try await writeAsLeader { db in try Self.dropHistoryPartitions(before: rawCutoff, in: db) }
            historyPartitions.withLock { $0.subtract(dropped.days) }
            pass.transactions += 1
            pass.partitionsDropped = dropped.days.count
            pass.reportsPruned += dropped.reports
        }
        let instances = try await read { db in try Int64.fetchAll(db, sql: "SELECT id FROM instances") }
        for instanceID in instances {
            while true {
                let deleted = try await writeAsLeader { db -> Int in
                    try db.execute(
                        sql: """
                            DELETE FROM history WHERE (instance_id, collected_at) IN (
                                SELECT instance_id, collected_at FROM history WHERE instance_id = ? AND collected_at < ?
                                ORDER BY collected_at LIMIT ?)
                            """, arguments: [instanceID, rawCutoff, batchSize])
                }
                pass.transactions += 1
                pass.reportsPruned += deleted
                if deleted < batchSize { break }
            }
            // Packed blocks, a day's worth (eight) at a time: their reports are counted, then deleted.
            while true {
                let (blocks, reports) = try await writeAsLeader { db -> (Int, Int) in
                    let rows = try SQLRow.fetchAll(
                        db,
                        sql: """
                            SELECT block_start, reports FROM history_packed WHERE instance_id = ? AND block_start < ?
                            ORDER BY block_start LIMIT 8
                            """, arguments: [instanceID, rawCutoff])
                    for row in rows {
                        try db.execute(
                            sql: "DELETE FROM history_packed WHERE instance_id = ? AND block_start = ?",
                            arguments: [instanceID, row[0] as Int64])
                    }
                    return (rows.count, rows.reduce(0) { $0 + Int($1[1] as Int64) })
                }
                pass.transactions += 1
                pass.reportsPruned += reports
                if blocks < 8 { break }
            }
        }

        let rollupCutoff = currentHour - Double(rollupDays) * 86_400
        while true {
            let deleted = try await writeAsLeader { db -> Int in
                try db.execute(
                    sql: """
                        DELETE FROM rollups_hourly WHERE (instance_id, check_id, hour) IN (
                            SELECT instance_id, check_id, hour FROM rollups_hourly WHERE hour < ? LIMIT ?)
                        """, arguments: [rollupCutoff, batchSize])
            }
            pass.transactions += 1
            pass.rollupsPruned += deleted
            if deleted < batchSize { break }
        }
        return pass
    }

    /// The start of the first hour at or after `start` (or of all) in which any instance has history:
    /// each instance's first, through its index.
    static func firstHistoryHour(atOrAfter start: Double?, in db: any SQLDatabase) throws -> Double? {
        try Int64.fetchOne(
            db,
            sql: """
                SELECT min(first) FROM (
                    SELECT (SELECT min(collected_at) FROM history h WHERE h.instance_id = i.id AND h.collected_at >= ?)
                        AS first FROM instances i
                    UNION ALL
                    SELECT (SELECT min(block_start) FROM history_packed p WHERE p.instance_id = i.id AND p.block_start >= ?)
                        FROM instances i) AS firsts
                """,
            arguments: [start.map(historyKey) ?? Int64.min, start.map { blockStart(historyKey($0)) } ?? Int64.min]
        ).map { key in
            let hour = Double(key - key.modulo(hourMilliseconds)) / 1000
            return max(start ?? hour, hour)
        }
    }

    /// One hour's rollup rows (per instance × check: worst status, counts per status, min/avg/max and
    /// samples of each metric), replacing any from an earlier pass over the same hour.
    static func rollUp(hour: Double, in db: any SQLDatabase) throws {
        let from = historyKey(hour)
        let insert = """
            INSERT INTO rollups_hourly (instance_id, check_id, hour, worst, ok, warning, critical, unknown, metrics)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (instance_id, check_id, hour) DO UPDATE SET
                worst = excluded.worst, ok = excluded.ok, warning = excluded.warning,
                critical = excluded.critical, unknown = excluded.unknown, metrics = excluded.metrics
            """
        for instanceID in try Int64.fetchAll(db, sql: "SELECT id FROM instances") {
            var rollups: [String: HourRollup] = [:]
            for (_, _, frame) in try frames(instanceID: instanceID, from: from, to: from + hourMilliseconds, in: db) {
                for result in frame.results { rollups[result.checkID, default: HourRollup()].add(result) }
            }
            for (checkID, rollup) in rollups {
                try db.execute(
                    sql: insert,
                    arguments: [
                        instanceID, checkID, Int64(hour), rollup.worst.code, rollup.counts[0], rollup.counts[1],
                        rollup.counts[2], rollup.counts[3], try rollup.metricsJSON(),
                    ])
            }
        }
    }

    /// Hourly rollups of one instance (of one check, or of all) for the hours starting in
    /// `since..<until`, oldest first, by check within an hour.
    public func rollups(instance: String, checkID: String? = nil, since: Double, until: Double) async throws
        -> [(checkID: String, rollup: HourlyRollup)]
    {
        var arguments: SQLArguments = [instance, Int64(since.rounded(.up)), Int64(until.rounded(.up))]
        if let checkID { arguments += [checkID] }
        return try await read { [arguments] db in
            try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM rollups_hourly r JOIN instances i ON i.id = r.instance_id
                    WHERE i.domain = ? AND r.hour >= ? AND r.hour < ? \(checkID == nil ? "" : "AND r.check_id = ?")
                    ORDER BY r.hour, r.check_id
                    """, arguments: arguments
            ).map { row in
                (
                    row["check_id"],
                    HourlyRollup(
                        hour: row["hour"], worst: CheckStatus(code: row["worst"]) ?? .unknown,
                        counts: [row["ok"], row["warning"], row["critical"], row["unknown"]], metrics: row["metrics"])
                )
            }
        }
    }
}

/// One instance × check × hour.
public struct HourlyRollup: Sendable, Hashable {
    public var hour: Double
    public var worst: CheckStatus
    /// Results per status: ok, warning, critical, unknown.
    public var counts: [Int]
    /// `{"metric": [min, avg, max, samples], …}` as JSON, nil when the check reported no metrics.
    public var metrics: String?
}

extension HourlyRollup {
    /// `metrics` decoded: min, mean, max and samples per metric.
    func metricSummaries() throws -> [String: OperatorAPI.MetricSummary] {
        guard let metrics else { return [:] }
        return try JSONCodable.decode([String: [Double]].self, from: Data(metrics.utf8)).compactMapValues { stats in
            stats.count == 4
                ? OperatorAPI.MetricSummary(min: stats[0], avg: stats[1], max: stats[2], samples: Int(stats[3])) : nil
        }
    }
}

/// One check's hour as it accumulates.
struct HourRollup {
    var worst = CheckStatus.ok
    /// Results per status code: ok, warning, critical, unknown.
    var counts = [0, 0, 0, 0]
    /// Per metric: min, sum, max, samples.
    var metrics: [String: (min: Double, sum: Double, max: Double, count: Int)] = [:]

    mutating func add(_ result: CheckResult) {
        worst = max(worst, result.status)
        counts[result.status.code] += 1
        for (name, value) in result.metrics {
            let old = metrics[name] ?? (value, 0, value, 0)
            metrics[name] = (Swift.min(old.min, value), old.sum + value, Swift.max(old.max, value), old.count + 1)
        }
    }

    /// `{"metric": [min, avg, max, samples], …}`, nil when the check reported no metrics.
    func metricsJSON() throws -> String? {
        guard !metrics.isEmpty else { return nil }
        let stats = metrics.mapValues { [$0.min, $0.sum / Double($0.count), $0.max, Double($0.count)] }
        return String(decoding: try JSONCodable.encode(stats), as: UTF8.self)
    }
}
