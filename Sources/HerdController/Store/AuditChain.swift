import Crypto
import GRDB
import HerdProtocol

/// The audit log as a hash chain: every row keeps `hash = SHA-256(previous hash ‖ this row)`, the
/// first row chaining to 64 zeros, and `audit_head` keeps the last id and hash. Triggers refuse UPDATE
/// and DELETE; someone who drops them and edits the file is still found out: a changed row no longer
/// matches its hash, a deleted or reordered row breaks the link of the row after it, and deleting the
/// newest rows leaves the head pointing past the end. (Rewriting the whole chain and its head is not
/// detectable from inside the database: record `herdctl audit --verify`'s head hash elsewhere.)
///
/// A row is hashed as its fields in order, each as `decimal byte count ":" bytes`, with `at` as the
/// 16 hex digits of its IEEE 754 bits, so no two different rows share an encoding.
enum AuditChain {
    static let genesis = String(repeating: "0", count: 64)

    struct Entry {
        var id: Int64
        var at: Double
        var actor: String
        var action: String
        var subject: String
        var detail: String

        init(id: Int64, at: Double, actor: String, action: String, subject: String, detail: String) {
            self.id = id
            self.at = at
            self.actor = actor
            self.action = action
            self.subject = subject
            self.detail = detail
        }

        init(row: Row) {
            self.init(
                id: row["id"], at: row["at"], actor: row["actor"], action: row["action"], subject: row["subject"],
                detail: row["detail"])
        }
    }

    static func hash(_ entry: Entry, previous: String) -> String {
        var bytes: [UInt8] = []
        for field in [
            previous, String(entry.id), String(entry.at.bitPattern, radix: 16), entry.actor, entry.action,
            entry.subject, entry.detail,
        ] {
            bytes.append(contentsOf: "\(field.utf8.count):".utf8)
            bytes.append(contentsOf: field.utf8)
        }
        return Hex.lowercase(SHA256.hash(data: bytes))
    }

    /// Appends one row to the chain (inside the caller's write transaction).
    @discardableResult
    static func append(
        _ db: Database, at: Double, actor: String, action: String, subject: String, detail: String
    ) throws -> Int64 {
        let head = try Row.fetchOne(db, sql: "SELECT last_id, hash FROM audit_head WHERE id = 1")
        let lastID: Int64 = head?["last_id"] ?? 0
        let previous: String = head?["hash"] ?? genesis
        let entry = Entry(id: lastID + 1, at: at, actor: actor, action: action, subject: subject, detail: detail)
        let hash = hash(entry, previous: previous)
        try db.execute(
            sql: "INSERT INTO audit (id, at, actor, action, subject, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [entry.id, at, actor, action, subject, detail, hash])
        try db.execute(
            sql: "INSERT OR REPLACE INTO audit_head (id, last_id, hash) VALUES (1, ?, ?)", arguments: [entry.id, hash])
        return entry.id
    }

    /// Chains the rows written before the chain existed (migration 0004 only, before its triggers).
    static func rehashAll(_ db: Database) throws {
        var previous = genesis
        var last: Int64 = 0
        for row in try Row.fetchAll(db, sql: "SELECT id, at, actor, action, subject, detail FROM audit ORDER BY id") {
            let entry = Entry(row: row)
            previous = hash(entry, previous: previous)
            last = entry.id
            try db.execute(sql: "UPDATE audit SET hash = ? WHERE id = ?", arguments: [previous, entry.id])
        }
        if last > 0 {
            try db.execute(
                sql: "INSERT INTO audit_head (id, last_id, hash) VALUES (1, ?, ?)", arguments: [last, previous])
        }
    }

    /// Recomputes the whole chain; every problem names the row where the chain breaks.
    static func verify(_ db: Database) throws -> OperatorAPI.AuditVerification {
        var problems: [OperatorAPI.AuditVerification.Problem] = []
        var previous = genesis
        var expectedID: Int64 = 1
        var count = 0
        let rows = try Row.fetchCursor(
            db, sql: "SELECT id, at, actor, action, subject, detail, hash FROM audit ORDER BY id")
        while let row = try rows.next() {
            let entry = Entry(row: row)
            let stored: String = row["hash"]
            count += 1
            if entry.id != expectedID {
                problems.append(
                    .init(
                        id: entry.id,
                        problem: entry.id > expectedID
                            ? "rows \(expectedID)…\(entry.id - 1) are missing (deleted)"
                            : "out of order"))
            } else if hash(entry, previous: previous) != stored {
                problems.append(
                    .init(
                        id: entry.id,
                        problem: "does not match its hash: changed, or the row before it was replaced or reordered"))
            }
            previous = stored
            expectedID = entry.id + 1
        }
        let head = try Row.fetchOne(db, sql: "SELECT last_id, hash FROM audit_head WHERE id = 1")
        let headID: Int64 = head?["last_id"] ?? 0
        if headID != expectedID - 1 || (head?["hash"] ?? genesis) != previous {
            problems.append(
                .init(
                    id: headID,
                    problem: headID > expectedID - 1
                        ? "rows \(expectedID)…\(headID) are missing (the newest rows were deleted)"
                        : "the chain's head (row \(headID)) does not match the last row (\(expectedID - 1))"))
        }
        return OperatorAPI.AuditVerification(
            ok: problems.isEmpty, entries: count, problems: problems, headHash: previous)
    }

    static func entries(_ db: Database, after: Int64, limit: Int) throws -> [OperatorAPI.AuditEntry] {
        try Row.fetchAll(
            db, sql: "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit]
        ).map {
            OperatorAPI.AuditEntry(
                id: $0["id"], at: $0["at"], actor: $0["actor"], action: $0["action"], subject: $0["subject"],
                detail: $0["detail"], hash: $0["hash"])
        }
    }
}
