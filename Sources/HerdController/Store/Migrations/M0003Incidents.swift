/// Patterns, incidents, notifications, silences and the audit log. `check_state` gains what the
/// pattern rules keep between results (so evaluation is O(1) per result, never a rescan of history):
/// since when the check has been in trouble, its active patterns, the recent cycles of each error
/// category its findings named, and the load series of the nginx access log. **Frozen** once shipped.
enum M0003Incidents: Migration {
    static let identifier = "0003-incidents"
    static let sql = """
        ALTER TABLE check_state ADD COLUMN trouble_since REAL;
        ALTER TABLE check_state ADD COLUMN patterns TEXT NOT NULL DEFAULT '';
        ALTER TABLE check_state ADD COLUMN categories TEXT NOT NULL DEFAULT '';
        ALTER TABLE check_state ADD COLUMN series TEXT NOT NULL DEFAULT '';
        UPDATE check_state SET trouble_since = since WHERE status != 0;

        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('instance', 'fleet')),
            instance_id INTEGER REFERENCES instances(id),
            check_id TEXT,
            subject TEXT NOT NULL,
            group_attribute TEXT,
            group_value TEXT,
            patterns TEXT NOT NULL,
            categories TEXT NOT NULL DEFAULT '',
            severity INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 3),
            state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
            opened_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            acknowledged_by TEXT,
            acknowledged_at REAL,
            resolved_at REAL,
            resolution TEXT,
            parent_id INTEGER REFERENCES incidents(id),
            summary TEXT NOT NULL,
            diagnosis TEXT
        );
        CREATE UNIQUE INDEX incidents_one_open_per_check ON incidents(instance_id, check_id)
            WHERE state = 'open' AND kind = 'instance';
        CREATE UNIQUE INDEX incidents_one_open_per_group ON incidents(subject, group_attribute, group_value)
            WHERE state = 'open' AND kind = 'fleet';
        CREATE INDEX incidents_by_state ON incidents(state, kind, check_id);
        CREATE INDEX incidents_by_parent ON incidents(parent_id);

        CREATE TABLE incident_events (
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            at REAL NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT,
            detail TEXT NOT NULL
        );
        CREATE INDEX incident_events_by_incident ON incident_events(incident_id, at);

        CREATE TABLE notifications (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            transition TEXT NOT NULL CHECK (transition IN ('opened', 'escalated', 'resolved')),
            sink TEXT NOT NULL,
            created_at REAL NOT NULL,
            due_at REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'suppressed', 'silenced', 'cancelled', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            sent_at REAL,
            last_error TEXT,
            UNIQUE (incident_id, transition, sink)
        );
        CREATE INDEX notifications_due ON notifications(state, due_at);

        CREATE TABLE silences (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL CHECK (scope IN ('instance', 'check', 'category', 'group')),
            value TEXT NOT NULL,
            starts_at REAL NOT NULL,
            ends_at REAL NOT NULL,
            created_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            created_at REAL NOT NULL,
            expired_at REAL,
            expired_by TEXT
        );
        CREATE INDEX silences_by_end ON silences(ends_at);

        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            subject TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        """
}
