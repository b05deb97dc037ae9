/// One incident per root cause: the checks an instance incident holds. Its first check is
/// `incidents.check_id`; a check whose trouble the same cause explains joins it as a symptom instead of
/// opening an incident of its own. An incident resolves when every check it holds is back to OK. Open
/// incidents get their own check as their first row. **Frozen** once shipped.
enum M0005IncidentChecks: Migration {
    static let identifier = "0005-incident-checks"
    static let sql = """
        CREATE TABLE incident_checks (
            incident_id INTEGER NOT NULL REFERENCES incidents(id),
            instance_id INTEGER NOT NULL REFERENCES instances(id),
            check_id TEXT NOT NULL,
            status INTEGER NOT NULL,
            summary TEXT NOT NULL,
            joined_at REAL NOT NULL,
            cleared_at REAL,
            PRIMARY KEY (incident_id, check_id)
        );
        CREATE UNIQUE INDEX incident_checks_active ON incident_checks(instance_id, check_id)
            WHERE cleared_at IS NULL;
        INSERT INTO incident_checks (incident_id, instance_id, check_id, status, summary, joined_at)
            SELECT id, instance_id, check_id, CASE severity WHEN 3 THEN 2 WHEN 2 THEN 3 ELSE 1 END, summary, opened_at
            FROM incidents WHERE kind = 'instance' AND state = 'open' AND check_id IS NOT NULL;
        """
}
