import Foundation
import GRDB
import HerdProtocol

/// What one retention pass did.
public struct RetentionPass: Sendable, Hashable {
    public var hoursRolledUp = 0
    public var reportsPruned = 0
    public var rollupsPruned = 0
    /// Transactions used: each is bounded, so ingest never waits long behind retention.
    public var transactions = 0
}

extension Store {
    static let rolledUpThroughKey = "rollups.through_hour"

    /// Rolls every complete hour up (per instance × check: worst status, counts per status, min/avg/max
    /// of each metric), then prunes raw results older than `rawDays` — only hours already rolled up — and
    /// rollups older than `rollupDays`. Each hour and each batch of `batchSize` rows is its own
    /// transaction, so a long pass never holds the writer for long.
    public func retain(now: Double, rawDays: Int, rollupDays: Int, batchSize: Int = 5_000) async throws
        -> RetentionPass
    {
        var pass = RetentionPass()
        let currentHour = (now / 3600).rounded(.down) * 3600

        // Roll up complete hours not yet rolled up, oldest first.
        var hour = try await pool.read { db -> Double? in
            if let through = try String.fetchOne(
                db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [Self.rolledUpThroughKey]),
                let value = Double(through)
            {
                return value
            }
            return try Double.fetchOne(db, sql: "SELECT min(collected_at) FROM reports").map {
                ($0 / 3600).rounded(.down) * 3600
            }
        }
        while let start = hour, start < currentHour {
            let next = try await pool.write { db -> Double? in
                try Self.rollUp(hour: start, in: db)
                try db.execute(
                    sql: "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)",
                    arguments: [Self.rolledUpThroughKey, String(Int64(start + 3600))])
                // Skip empty hours: jump to the hour of the next report, if any.
                return try Double.fetchOne(
                    db, sql: "SELECT min(collected_at) FROM reports WHERE collected_at >= ?", arguments: [start + 3600]
                ).map { max(start + 3600, ($0 / 3600).rounded(.down) * 3600) }
            }
            pass.hoursRolledUp += 1
            pass.transactions += 1
            hour = next
        }

        // Prune raw results older than the raw retention, never past what is rolled up.
        let rolledUp = try await pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [Self.rolledUpThroughKey]
            )
            .flatMap(Double.init) ?? 0
        }
        let rawCutoff = min(now - Double(rawDays) * 86_400, rolledUp)
        while true {
            let deleted = try await pool.write { db -> Int in
                try db.execute(
                    sql: """
                        DELETE FROM reports WHERE id IN (
                            SELECT id FROM reports WHERE collected_at < ? ORDER BY collected_at LIMIT ?)
                        """, arguments: [rawCutoff, batchSize])
                return db.changesCount
            }
            pass.transactions += 1
            pass.reportsPruned += deleted
            if deleted < batchSize { break }
        }

        let rollupCutoff = currentHour - Double(rollupDays) * 86_400
        while true {
            let deleted = try await pool.write { db -> Int in
                try db.execute(
                    sql: """
                        DELETE FROM rollups_hourly WHERE (instance_id, check_id, hour) IN (
                            SELECT instance_id, check_id, hour FROM rollups_hourly WHERE hour < ? LIMIT ?)
                        """, arguments: [rollupCutoff, batchSize])
                return db.changesCount
            }
            pass.transactions += 1
            pass.rollupsPruned += deleted
            if deleted < batchSize { break }
        }
        return pass
    }

    /// One hour's rollup rows, replacing any from an earlier pass over the same hour.
    static func rollUp(hour: Double, in db: Database) throws {
        // Severity order: ok 0 < warning 1 < unknown 2 < critical 3; stored back as the status code.
        try db.execute(
            sql: """
                WITH hour_results AS (
                    SELECT c.instance_id, c.check_id, c.status, c.metrics
                    FROM reports r JOIN check_results c ON c.report_id = r.id
                    WHERE r.collected_at >= :start AND r.collected_at < :end
                ),
                statuses AS (
                    SELECT instance_id, check_id,
                        max(CASE status WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 3 THEN 2 ELSE 3 END) AS severity,
                        sum(status = 0) AS ok, sum(status = 1) AS warning, sum(status = 2) AS critical,
                        sum(status = 3) AS unknown
                    FROM hour_results GROUP BY instance_id, check_id
                ),
                per_metric AS (
                    SELECT h.instance_id, h.check_id, j.key AS name,
                        json_array(min(j.value), avg(j.value), max(j.value), count(*)) AS stats
                    FROM hour_results h, json_each(h.metrics) j
                    WHERE h.metrics IS NOT NULL
                    GROUP BY h.instance_id, h.check_id, j.key
                ),
                metrics AS (
                    SELECT instance_id, check_id, json_group_object(name, json(stats)) AS metrics
                    FROM per_metric GROUP BY instance_id, check_id
                )
                INSERT OR REPLACE INTO rollups_hourly
                    (instance_id, check_id, hour, worst, ok, warning, critical, unknown, metrics)
                SELECT s.instance_id, s.check_id, :start,
                    CASE s.severity WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 2 THEN 3 ELSE 2 END,
                    s.ok, s.warning, s.critical, s.unknown, m.metrics
                FROM statuses s LEFT JOIN metrics m ON m.instance_id = s.instance_id AND m.check_id = s.check_id
                """,
            arguments: ["start": hour, "end": hour + 3600])
    }

    /// Hourly rollups of one instance's check, oldest first.
    public func rollups(instance: String, checkID: String, since: Double) async throws -> [HourlyRollup] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM rollups_hourly r JOIN instances i ON i.id = r.instance_id
                    WHERE i.domain = ? AND r.check_id = ? AND r.hour >= ? ORDER BY r.hour
                    """, arguments: [instance, checkID, since]
            ).map { row in
                HourlyRollup(
                    hour: row["hour"], worst: CheckStatus(code: row["worst"]) ?? .unknown,
                    counts: [row["ok"], row["warning"], row["critical"], row["unknown"]], metrics: row["metrics"])
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
