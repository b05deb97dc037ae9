import Foundation

/// Paging (Controller/README.md, "Paging"): an open critical incident nobody acknowledged is sent again
/// every `repeat_interval` — a `repeated` notification, numbered by `repetition` (0 for every other
/// transition), so the same receiver can hear the same incident more than once. SQLite cannot change a
/// table's CHECK or UNIQUE constraints in place, so its `notifications` is rebuilt, rows and ids kept.
/// **Frozen** once shipped.
enum M0010Paging: Migration {
    static let identifier = "0010-paging"
    static let sql = """
        CREATE TABLE notifications_paged (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            transition TEXT NOT NULL CHECK (transition IN ('opened', 'escalated', 'repeated', 'resolved')),
            repetition INTEGER NOT NULL DEFAULT 0,
            sink TEXT NOT NULL,
            created_at REAL NOT NULL,
            due_at REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'suppressed', 'silenced', 'cancelled', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            sent_at REAL,
            last_error TEXT,
            claimed_by TEXT,
            claimed_until REAL,
            UNIQUE (incident_id, transition, sink, repetition)
        );
        INSERT INTO notifications_paged (id, incident_id, transition, sink, created_at, due_at, state, attempts,
            sent_at, last_error, claimed_by, claimed_until)
        SELECT id, incident_id, transition, sink, created_at, due_at, state, attempts, sent_at, last_error,
            claimed_by, claimed_until
        FROM notifications;
        DROP TABLE notifications;
        ALTER TABLE notifications_paged RENAME TO notifications;
        CREATE INDEX notifications_due ON notifications(state, due_at);
        """
    static let postgresql: [String]? = [
        "ALTER TABLE notifications DROP CONSTRAINT notifications_transition_check",
        """
        ALTER TABLE notifications ADD CONSTRAINT notifications_transition_check
            CHECK (transition IN ('opened', 'escalated', 'repeated', 'resolved'))
        """,
        "ALTER TABLE notifications ADD COLUMN repetition bigint NOT NULL DEFAULT 0",
        "ALTER TABLE notifications DROP CONSTRAINT notifications_incident_id_transition_sink_key",
        """
        ALTER TABLE notifications ADD CONSTRAINT notifications_incident_id_transition_sink_repetition_key
            UNIQUE (incident_id, transition, sink, repetition)
        """,
    ]
}
