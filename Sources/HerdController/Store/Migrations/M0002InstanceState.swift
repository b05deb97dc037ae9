/// One row per instance with its worst current status and its failing (critical, unknown) and warning
/// check ids, kept up to date on ingest, so the fleet table reads one row per instance instead of one
/// per instance × check (BENCHMARKS.md, "herdctl status over 10 000 instances"). **Frozen** once shipped.
enum M0002InstanceState: Migration {
    static let identifier = "0002-instance-state"
    static let sql = """
        CREATE TABLE instance_state (
            instance_id INTEGER PRIMARY KEY REFERENCES instances(id),
            severity INTEGER NOT NULL,
            failing TEXT,
            warning TEXT
        );

        INSERT INTO instance_state (instance_id, severity, failing, warning)
        SELECT instance_id,
            max(CASE status WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 3 THEN 2 ELSE 3 END),
            group_concat(CASE WHEN status IN (2, 3) THEN check_id END),
            group_concat(CASE WHEN status = 1 THEN check_id END)
        FROM check_state GROUP BY instance_id;
        """
}
