import GRDB

/// Remediations (proposed commands, their approvals, results), the global freeze, and the audit log
/// made tamper-evident: each row gains the hash that chains it to the one before (`AuditChain`), the
/// rows written before this migration are chained by it, and triggers refuse UPDATE and DELETE.
/// **Frozen** once shipped.
enum M0004Remediation: Migration {
    static let identifier = "0004-remediation"
    static let sql = """
        CREATE TABLE remediations (
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            instance TEXT NOT NULL,
            action TEXT NOT NULL,
            parameters TEXT NOT NULL,
            risk TEXT NOT NULL,
            reason TEXT NOT NULL,
            requested_by TEXT NOT NULL,
            requested_key TEXT NOT NULL,
            payload BLOB NOT NULL,
            requester_signature BLOB NOT NULL,
            state TEXT NOT NULL,
            required_approvals INTEGER NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            dispatched_at REAL,
            finished_at REAL,
            detail TEXT,
            refusal TEXT,
            exit_code INTEGER,
            output_tail TEXT,
            verification TEXT NOT NULL DEFAULT '[]',
            result BLOB,
            incident_id INTEGER REFERENCES incidents(id),
            preview_of TEXT REFERENCES remediations(id),
            silence_id INTEGER REFERENCES silences(id)
        );
        CREATE INDEX remediations_by_agent ON remediations (agent_id, state);
        CREATE INDEX remediations_by_state ON remediations (state, created_at);

        CREATE TABLE remediation_approvals (
            remediation_id TEXT NOT NULL REFERENCES remediations(id),
            key_id TEXT NOT NULL,
            operator TEXT NOT NULL,
            signature BLOB NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (remediation_id, key_id)
        ) WITHOUT ROWID;

        CREATE TABLE remediation_freeze (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            frozen INTEGER NOT NULL,
            by TEXT,
            at REAL,
            reason TEXT
        );
        INSERT INTO remediation_freeze (id, frozen) VALUES (1, 0);

        ALTER TABLE audit ADD COLUMN hash TEXT NOT NULL DEFAULT '';
        CREATE TABLE audit_head (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            last_id INTEGER NOT NULL,
            hash TEXT NOT NULL
        );
        """

    static func migrate(_ db: Database) throws {
        try AuditChain.rehashAll(SQLiteDatabase(db))
        try db.execute(
            sql: """
                CREATE TRIGGER audit_append_only_update BEFORE UPDATE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """)
    }
}
