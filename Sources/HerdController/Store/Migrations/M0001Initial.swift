/// The first schema. **Frozen**: once shipped, a migration never changes (StoreMigrationTests holds
/// the SHA-256 of its SQL); a change to the schema is a new file, M0002…, and a line in `Migrations.all`.
enum M0001Initial: Migration {
    static let identifier = "0001-initial"
    static let sql = """
        CREATE TABLE operators (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            signing_key_id TEXT NOT NULL UNIQUE,
            signing_public_key BLOB NOT NULL,
            certificate_fingerprint TEXT NOT NULL UNIQUE,
            certificate_pem TEXT NOT NULL,
            created_at REAL NOT NULL,
            revoked_at REAL
        );

        CREATE TABLE enrollment_tokens (
            token_hash TEXT PRIMARY KEY,
            instance TEXT NOT NULL,
            created_by INTEGER REFERENCES operators(id),
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            auto_accept INTEGER NOT NULL,
            used_at REAL,
            agent_id TEXT
        );

        CREATE TABLE agents (
            id TEXT PRIMARY KEY,
            instance TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'revoked')),
            signing_public_key BLOB NOT NULL,
            signing_key_id TEXT NOT NULL UNIQUE,
            csr_pem TEXT NOT NULL,
            certificate_pem TEXT,
            certificate_fingerprint TEXT UNIQUE,
            agent_version TEXT NOT NULL,
            hostname TEXT NOT NULL,
            requested_at REAL NOT NULL,
            accepted_at REAL,
            revoked_at REAL,
            last_sequence INTEGER,
            last_report_at REAL,
            interval_seconds INTEGER
        );
        CREATE UNIQUE INDEX agents_one_live_per_instance ON agents(instance) WHERE state != 'revoked';

        CREATE TABLE instances (
            id INTEGER PRIMARY KEY,
            domain TEXT NOT NULL UNIQUE,
            mastodon_version TEXT,
            object_storage_endpoint TEXT,
            region TEXT,
            provider TEXT,
            tags TEXT NOT NULL DEFAULT '{}',
            operator_attributes TEXT NOT NULL DEFAULT '{}',
            created_at REAL NOT NULL
        );

        CREATE TABLE reports (
            id INTEGER PRIMARY KEY,
            instance_id INTEGER NOT NULL REFERENCES instances(id),
            agent_id TEXT NOT NULL REFERENCES agents(id),
            sequence INTEGER NOT NULL,
            collected_at REAL NOT NULL,
            received_at REAL NOT NULL,
            outbox_dropped INTEGER NOT NULL DEFAULT 0,
            UNIQUE (agent_id, sequence)
        );
        CREATE INDEX reports_collected ON reports(collected_at);

        CREATE TABLE check_results (
            report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            check_id TEXT NOT NULL,
            instance_id INTEGER NOT NULL,
            collected_at REAL NOT NULL,
            status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 3),
            summary TEXT NOT NULL,
            duration_ms REAL NOT NULL,
            metrics TEXT,
            PRIMARY KEY (report_id, check_id)
        ) WITHOUT ROWID;
        CREATE INDEX check_results_history ON check_results(instance_id, check_id, collected_at);

        CREATE TABLE findings (
            report_id INTEGER NOT NULL REFERENCES reports(id) ON DELETE CASCADE,
            check_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            category TEXT NOT NULL,
            signature TEXT NOT NULL,
            count INTEGER NOT NULL,
            sample TEXT,
            PRIMARY KEY (report_id, check_id, position)
        ) WITHOUT ROWID;

        CREATE TABLE check_state (
            instance_id INTEGER NOT NULL REFERENCES instances(id),
            check_id TEXT NOT NULL,
            status INTEGER NOT NULL,
            since REAL NOT NULL,
            summary TEXT NOT NULL,
            last_at REAL NOT NULL,
            recent TEXT NOT NULL,
            PRIMARY KEY (instance_id, check_id)
        ) WITHOUT ROWID;

        CREATE TABLE rollups_hourly (
            instance_id INTEGER NOT NULL,
            check_id TEXT NOT NULL,
            hour INTEGER NOT NULL,
            worst INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            warning INTEGER NOT NULL,
            critical INTEGER NOT NULL,
            unknown INTEGER NOT NULL,
            metrics TEXT,
            PRIMARY KEY (instance_id, check_id, hour)
        ) WITHOUT ROWID;
        CREATE INDEX rollups_hour ON rollups_hourly(hour);

        CREATE TABLE store_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """
}
