import Foundation
import HerdProtocol

/// What `copy(into:)` moved: rows per table, in the order copied.
public struct StoreCopy: Sendable {
    public var rows: [(table: String, count: Int)] = []
    /// The target's audit chain, verified after the copy (the copy is refused when it does not hold).
    public var auditHead: String = ""
}

extension Store {
    /// Every table, parents before children, with the columns that order its rows (its key) and the
    /// columns that point at rows of the same table (filled in after every row is there).
    static let copiedTables: [(name: String, key: [String], selfReferences: [String])] = [
        ("operators", ["id"], []),
        ("enrollment_tokens", ["token_hash"], []),
        ("agents", ["id"], []),
        ("instances", ["id"], []),
        ("check_state", ["instance_id", "check_id"], []),
        ("instance_state", ["instance_id"], []),
        ("history", ["id"], []),
        ("history_packed", ["instance_id", "block_start"], []),
        ("rollups_hourly", ["instance_id", "check_id", "hour"], []),
        ("store_meta", ["key"], []),
        ("incidents", ["id"], ["parent_id"]),
        ("incident_events", ["rowid"], []),
        ("incident_checks", ["incident_id", "check_id"], []),
        ("notifications", ["id"], []),
        ("silences", ["id"], []),
        ("audit", ["id"], []),
        ("audit_head", ["id"], []),
        ("remediations", ["id"], ["preview_of"]),
        ("remediation_approvals", ["remediation_id", "key_id"], []),
        ("remediation_freeze", ["id"], []),
    ]

    /// Tables whose `id` PostgreSQL numbers (identity columns): after a copy their sequences continue
    /// after the largest id copied.
    static let numberedTables = [
        "operators", "instances", "history", "incidents", "notifications", "silences", "audit",
    ]

    public struct CopyError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Copies this SQLite store, every row, into `target`, an empty PostgreSQL store, in one transaction
    /// of the target: all of it or nothing. The audit chain is verified on the target before the copy
    /// commits, and the copy is recorded as the chain's next entry. The source must not change meanwhile
    /// (stop the controller first): it is read in pages of its own transactions.
    public func copy(into target: Store, pageSize: Int = 2_000) async throws -> StoreCopy {
        guard case .sqlite(let pool) = engine else { throw CopyError(description: "the source must be SQLite") }
        guard case .postgresql = target.engine else { throw CopyError(description: "the target must be PostgreSQL") }
        let source = location
        let copied = try await target.write { db -> StoreCopy in
            for table in ["operators", "agents", "instances", "history", "audit", "incidents"] {
                guard try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") == 0 else {
                    throw CopyError(description: "the target store is not empty (\(table) has rows)")
                }
            }
            var copy = StoreCopy()
            // `incident_events.rowid` (SQLite's implicit column) orders the pages; PostgreSQL numbers
            // its own in the same order.
            for table in Self.copiedTables {
                if let key = ["history": "collected_at", "history_packed": "block_start"][table.name] {
                    let days = try pool.read { db in
                        try Int64.fetchAll(
                            SQLiteDatabase(db),
                            sql: "SELECT DISTINCT (\(key) - ((\(key) % ?1) + ?1) % ?1) / ?1 FROM \(table.name)",
                            arguments: [Self.dayMilliseconds])
                    }
                    for day in days.sorted() {
                        try Self.createHistoryPartition(table.name, day: day, in: db)
                    }
                }
                // The columns both have (PostgreSQL's `history_packed` has no `id`).
                let targetColumns = Set(
                    try String.fetchAll(
                        db,
                        sql: """
                            SELECT column_name FROM information_schema.columns
                            WHERE table_schema = current_schema() AND table_name = ?
                            """, arguments: [table.name]))
                let columns = try pool.read { db in
                    try String.fetchAll(
                        SQLiteDatabase(db), sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid",
                        arguments: [table.name])
                }.filter(targetColumns.contains)
                guard !columns.isEmpty else { throw CopyError(description: "the source has no table \(table.name)") }
                var after: [SQLValue]?
                var count = 0
                while true {
                    let keys = table.key.joined(separator: ", ")
                    let marks = Array(repeating: "?", count: table.key.count).joined(separator: ", ")
                    let sql = """
                        SELECT \(keys), \(columns.joined(separator: ", ")) FROM \(table.name)
                        \(after == nil ? "" : "WHERE (\(keys)) > (\(marks))") ORDER BY \(keys) LIMIT ?
                        """
                    let arguments = SQLArguments((after ?? []) + [.integer(Int64(pageSize))])
                    let page = try pool.read { db in
                        try SQLRow.fetchAll(SQLiteDatabase(db), sql: sql, arguments: arguments)
                    }
                    guard let last = page.last else { break }
                    after = Array(last.values.prefix(table.key.count))
                    try Self.insert(
                        page.map { Array($0.values.dropFirst(table.key.count)) }, into: table.name, columns: columns,
                        deferring: table.selfReferences, in: db)
                    count += page.count
                }
                copy.rows.append((table.name, count))
            }
            for table in Self.numberedTables {
                try db.execute(
                    sql: """
                        SELECT setval(pg_get_serial_sequence('\(table)', 'id'),
                            (SELECT coalesce(max(id), 0) + 1 FROM \(table)), false)
                        """)
            }
            let verification = try AuditChain.verify(db)
            guard verification.ok else {
                throw CopyError(
                    description: "the audit chain does not verify after the copy: "
                        + verification.problems.map { "row \($0.id): \($0.problem)" }.joined(separator: "; "))
            }
            let summary = copy.rows.map { "\($0.table) \($0.count)" }.joined(separator: ", ")
            try AuditChain.append(
                db, at: Store.now(), actor: "herd-controller", action: "store.migrate", subject: "store",
                detail: "copied from SQLite \(source): \(summary)")
            copy.auditHead = try AuditChain.verify(db).headHash
            return copy
        }
        return copied
    }

    /// Inserts rows of `columns`, as many per statement as PostgreSQL's parameter limit allows; columns
    /// in `deferring` are inserted NULL and set afterwards (they may point at a later row).
    private static func insert(
        _ rows: [[SQLValue]], into table: String, columns: [String], deferring: [String], in db: any SQLDatabase
    ) throws {
        let deferred = deferring.compactMap { name in columns.firstIndex(of: name).map { (name, $0) } }
        let perStatement = max(1, min(500, 60_000 / columns.count))
        for start in stride(from: 0, to: rows.count, by: perStatement) {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            let row = "(" + Array(repeating: "?", count: columns.count).joined(separator: ", ") + ")"
            var values: [SQLValue] = []
            values.reserveCapacity(chunk.count * columns.count)
            for var row in chunk {
                for (_, index) in deferred { row[index] = .null }
                values += row
            }
            try db.execute(
                sql: """
                    INSERT INTO \(table) (\(columns.joined(separator: ", ")))
                    VALUES \(Array(repeating: row, count: chunk.count).joined(separator: ", "))
                    """ + (table == "remediation_freeze" ? Self.freezeUpsert(columns) : ""),
                arguments: SQLArguments(values))
        }
        guard let idIndex = columns.firstIndex(of: "id") else { return }
        for (name, index) in deferred {
            for row in rows where row[index] != .null {
                try db.execute(
                    sql: "UPDATE \(table) SET \(name) = ? WHERE id = ?",
                    arguments: SQLArguments([row[index], row[idIndex]]))
            }
        }
    }

    /// The target was made with its freeze row: the copy's replaces it.
    private static func freezeUpsert(_ columns: [String]) -> String {
        " ON CONFLICT (id) DO UPDATE SET "
            + columns.filter { $0 != "id" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
    }
}
