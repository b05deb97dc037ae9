/// What an instance's agent lost before it could deliver: reports dropped by its outbox's bounds, set
/// aside as corrupt, or never stored (a cycle whose report could not be written — a full disk), as
/// each report's `outbox_dropped` tells. Kept on the instance so `herdctl show` reads it without
/// scanning history. **Frozen** once shipped.
enum M0006LostReports: Migration {
    static let identifier = "0006-lost-reports"
    static let sql = """
        ALTER TABLE instances ADD COLUMN reports_lost INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE instances ADD COLUMN reports_lost_at REAL;
        UPDATE instances SET
            reports_lost = (SELECT coalesce(sum(r.outbox_dropped), 0) FROM reports r WHERE r.instance_id = instances.id),
            reports_lost_at = (SELECT max(r.received_at) FROM reports r
                WHERE r.instance_id = instances.id AND r.outbox_dropped > 0);
        """
}
