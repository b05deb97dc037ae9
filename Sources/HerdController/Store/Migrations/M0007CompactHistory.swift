import Foundation
import GRDB
import HerdProtocol
import Synchronization

/// History twenty times smaller: one row per report holding its results packed as a `HistoryFrame`
/// (what changed since the report before it in the same three-hour block), in place of a row per
/// report, per check result and per finding with each summary and metric name stored every minute.
/// A rowid table, so rows are appended and pages fill, and a key frame (every text, ~3 KiB) stays in
/// its page (an index-organised table spills anything over ~1 KiB to a part-empty overflow page); the
/// index finds an instance's rows. Converts the existing rows, then drops the old tables (SQLite
/// reuses their pages; `VACUUM` returns them to the file system). **Frozen** once shipped.
enum M0007CompactHistory: Migration {
    static let identifier = "0007-compact-history"
    static let sql = """
        CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            instance_id INTEGER NOT NULL REFERENCES instances(id),
            collected_at INTEGER NOT NULL,
            sequence INTEGER NOT NULL,
            results BLOB NOT NULL
        );
        CREATE UNIQUE INDEX history_by_instance ON history(instance_id, collected_at);
        """

    static func migrate(_ db: Database) throws {
        let cache = Mutex(HistoryCache())
        let results = try Row.fetchCursor(
            db,
            sql: """
                SELECT r.id, r.instance_id, r.collected_at, r.sequence,
                    c.check_id, c.status, c.summary, c.duration_ms, c.metrics
                FROM reports r LEFT JOIN check_results c ON c.report_id = r.id
                ORDER BY r.instance_id, r.collected_at, r.id, c.check_id
                """)
        let findings = try Row.fetchCursor(
            db,
            sql: """
                SELECT f.report_id, f.check_id, f.category, f.signature, f.count, f.sample
                FROM findings f JOIN reports r ON r.id = f.report_id
                ORDER BY r.instance_id, r.collected_at, r.id, f.check_id, f.position
                """)
        var nextFinding = try findings.next()
        var current: (id: Int64, instanceID: Int64, collectedAt: Double, sequence: Int64)?
        var checks: [CheckResult] = []
        func flush() throws {
            guard let report = current else { return }
            try Store.appendHistory(
                instanceID: report.instanceID, collectedAt: report.collectedAt, sequence: UInt64(report.sequence),
                results: checks, late: false, cache: cache, in: SQLiteDatabase(db))
        }
        while let row = try results.next() {
            let reportID: Int64 = row[0]
            if current?.id != reportID {
                try flush()
                current = (reportID, row[1], row[2], row[3])
                checks = []
            }
            guard let checkID = row[4] as String? else { continue }
            var result = CheckResult(
                checkID: checkID, status: CheckStatus(code: row[5]) ?? .unknown, summary: row[6],
                durationMilliseconds: row[7],
                metrics: try (row[8] as String?).map {
                    try JSONCodable.decode([String: Double].self, from: Array($0.utf8))
                }
                    ?? [:])
            while let finding = nextFinding, finding[0] as Int64 == reportID, finding[1] as String == checkID {
                result.findings.append(
                    Finding(
                        category: FindingCategory(finding[2] as String), signature: finding[3],
                        count: UInt64(max(0, finding[4] as Int64)), sample: finding[5]))
                nextFinding = try findings.next()
            }
            checks.append(result)
        }
        try flush()
        try db.execute(sql: "DROP TABLE findings; DROP TABLE check_results; DROP TABLE reports;")
    }
}
