import FoundationEssentials
import HerdProtocol

/// The audit log as a hash chain: every row keeps `hash = SHA-256(previous hash ‖ this row)`, the
/// first row chaining to 64 zeros, and `audit_head` keeps the last id and hash. Triggers refuse UPDATE
/// and DELETE; someone who drops them and edits the file is still found out: a changed row no longer
/// matches its hash, a deleted or reordered row breaks the link of the row after it, and deleting the
/// newest rows leaves the head pointing past the end. (Rewriting the whole chain and its head is not
/// detectable from inside the database: record `herdctl audit --verify`'s head hash elsewhere.)
///
/// A row is hashed as `AuditChainVerifier` says (HerdProtocol: herdctl verifies with the same code),
/// over the bytes stored: on SQLite the columns are read `CAST(… AS BLOB)`, so that bytes that are not
/// UTF-8 (which the controller never writes) are hashed as they are; PostgreSQL's text is always valid
/// UTF-8 and never holds a NUL. No row is written with a NUL byte.
enum AuditChain {
    static let genesis = AuditChainVerifier.genesis

    static let texts = ["actor", "action", "subject", "detail"]

    /// The columns as stored, text as its bytes.
    static func columns(_ dialect: SQLDialect) -> String {
        switch dialect {
        case .sqlite: (["id", "at"] + texts.map { "CAST(\($0) AS BLOB) AS \($0)" }).joined(separator: ", ")
        case .postgresql: (["id", "at"] + texts).joined(separator: ", ")
        }
    }

    static func fields(_ row: SQLRow) -> [[UInt8]] {
        texts.map { column in row[column] as [UInt8]? ?? [] }
    }

    /// Appends one row to the chain (inside the caller's write transaction).
    @discardableResult
    static func append(
        _ db: any SQLDatabase, at: Double, actor: String, action: String, subject: String, detail: String
    ) throws -> Int64 {
        let texts = [actor, action, subject, detail]
        guard !texts.contains(where: { $0.utf8.contains(0) }) else {
            throw WireError(.invalidField, "audit text holds a NUL byte")
        }
        let head = try SQLRow.fetchOne(db, sql: "SELECT last_id, hash FROM audit_head WHERE id = 1")
        let id: Int64 = (head?["last_id"] ?? 0) + 1
        let previous: String = head?["hash"] ?? genesis
        let hash = AuditChainVerifier.hash(id: id, at: at, fields: texts.map(\.utf8), previous: previous)
        try db.execute(
            sql: "INSERT INTO audit (id, at, actor, action, subject, detail, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [id, at, actor, action, subject, detail, hash])
        try db.execute(
            sql: """
                INSERT INTO audit_head (id, last_id, hash) VALUES (1, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id, hash = excluded.hash
                """, arguments: [id, hash])
        return id
    }

    /// Chains the rows written before the chain existed (migration 0004 only, before its triggers).
    static func rehashAll(_ db: any SQLDatabase) throws {
        var previous = genesis
        var last: Int64 = 0
        for row in try SQLRow.fetchAll(db, sql: "SELECT \(columns(db.dialect)) FROM audit ORDER BY id") {
            last = row["id"]
            previous = AuditChainVerifier.hash(id: last, at: row["at"], fields: fields(row), previous: previous)
            try db.execute(sql: "UPDATE audit SET hash = ? WHERE id = ?", arguments: [previous, last])
        }
        if last > 0 {
            try db.execute(
                sql: "INSERT INTO audit_head (id, last_id, hash) VALUES (1, ?, ?)", arguments: [last, previous])
        }
    }

    /// Recomputes the whole chain; every problem names the row where the chain breaks.
    static func verify(_ db: any SQLDatabase) throws -> OperatorAPI.AuditVerification {
        var verifier = AuditChainVerifier()
        let rows = try SQLRow.fetchAll(db, sql: "SELECT \(columns(db.dialect)), hash FROM audit ORDER BY id")
        for row in rows {
            verifier.add(id: row["id"], at: row["at"], fields: fields(row), hash: row["hash"])
        }
        let head = try SQLRow.fetchOne(db, sql: "SELECT last_id, hash FROM audit_head WHERE id = 1")
        verifier.checkHead(id: head?["last_id"] ?? 0, hash: head?["hash"] ?? genesis)
        return verifier.verification
    }

    /// Rows as stored: text read as its bytes (a NUL and what follows it included; bytes that are not
    /// UTF-8, which the controller never writes, become U+FFFD and no longer match their hash).
    static func entries(_ db: any SQLDatabase, after: Int64, limit: Int) throws -> [OperatorAPI.AuditEntry] {
        try SQLRow.fetchAll(
            db, sql: "SELECT \(columns(db.dialect)), hash FROM audit WHERE id > ? ORDER BY id LIMIT ?",
            arguments: [after, limit]
        ).map { row in
            let text = fields(row).map { String(decoding: $0, as: UTF8.self) }
            return OperatorAPI.AuditEntry(
                id: row["id"], at: row["at"], actor: text[0], action: text[1], subject: text[2], detail: text[3],
                hash: row["hash"])
        }
    }
}

extension Store {
    /// One audit row in a transaction of its own, for an action that changes nothing else in the store
    /// (a test notification).
    func audit(at: Double, actor: String, action: String, subject: String, detail: String) async throws {
        try await write { db in
            try AuditChain.append(db, at: at, actor: actor, action: action, subject: subject, detail: detail)
        }
    }
}
