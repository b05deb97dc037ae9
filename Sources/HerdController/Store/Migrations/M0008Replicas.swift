import Foundation

/// What replicas on one database share (`Store+Leadership.swift`, `Store+Notifications.swift`):
/// - `leadership`, the fencing token of the replica that leads: one row whose `epoch` grows by one each
///   time a replica takes the lead;
/// - on each notification, who is delivering it and until when (`claimed_by`, `claimed_until`), so that
///   a notification is posted by one sender at a time and a dead sender's claim lapses. **Frozen** once
///   shipped.
enum M0008Replicas: Migration {
    static let identifier = "0008-replicas"
    static let sql = """
        CREATE TABLE leadership (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            epoch INTEGER NOT NULL,
            holder TEXT NOT NULL,
            since REAL NOT NULL
        );
        INSERT INTO leadership (id, epoch, holder, since) VALUES (1, 0, '', 0);
        ALTER TABLE notifications ADD COLUMN claimed_by TEXT;
        ALTER TABLE notifications ADD COLUMN claimed_until REAL;
        """
    static let postgresql: [String]? = [
        """
        CREATE TABLE leadership (
            id bigint PRIMARY KEY CHECK (id = 1),
            epoch bigint NOT NULL,
            holder text NOT NULL,
            since double precision NOT NULL
        )
        """,
        "INSERT INTO leadership (id, epoch, holder, since) VALUES (1, 0, '', 0)",
        "ALTER TABLE notifications ADD COLUMN claimed_by text",
        "ALTER TABLE notifications ADD COLUMN claimed_until double precision",
    ]
}
