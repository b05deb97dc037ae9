import Foundation
import HerdProtocol

/// What `FleetRule` reads and writes: open incidents by trouble, instances by group, fleet incidents
/// and their members. The rule decides; these statements are the store's.
extension IncidentBook {
    /// The open fleet incident for this trouble and group, if any.
    func openFleetIncident(subject: String, group: FleetRule.Group) throws -> Int64? {
        try Int64.fetchOne(
            db,
            sql: """
                SELECT id FROM incidents WHERE kind = 'fleet' AND state = 'open' AND subject = ?
                    AND group_attribute = ? AND group_value = ?
                """, arguments: [subject, group.attribute, group.value])
    }

    /// Open, unlinked instance incidents with this trouble (a check by its plain id — a split instance's
    /// `disk@db-1` is `check:disk` — or an error category), updated since `since`.
    func fleetCandidates(checkID: String?, category: String?, since: Double) throws -> [(
        incidentID: Int64, instanceID: Int64
    )] {
        let match = checkID != nil ? "subject = 'check:' || ?" : "(',' || categories || ',') LIKE ('%,' || ? || ',%')"
        return try SQLRow.fetchAll(
            db,
            sql: """
                SELECT id, instance_id FROM incidents
                WHERE kind = 'instance' AND state = 'open' AND parent_id IS NULL AND updated_at >= ? AND \(match)
                """, arguments: [since, checkID ?? category ?? ""]
        ).map { ($0[0], $0[1]) }
    }

    func groups(of instanceID: Int64) throws -> [FleetRule.Group] { try Self.groups(of: instanceID, in: db) }

    /// Every group the instance is in — its attributes, tags, operator attributes, and the whole fleet —
    /// for the fleet rule and for silences scoped to a group.
    static func groups(of instanceID: Int64, in db: any SQLDatabase) throws -> [FleetRule.Group] {
        guard
            let row = try SQLRow.fetchOne(
                db,
                sql: """
                    SELECT object_storage_endpoint, provider, region, mastodon_version, tags, operator_attributes
                    FROM instances WHERE id = ?
                    """, arguments: [instanceID])
        else { return [] }
        var groups: [FleetRule.Group] = []
        for (index, attribute) in FleetRule.attributes.enumerated() {
            if let value = row[index] as String?, !value.isEmpty {
                groups.append(FleetRule.Group(attribute: attribute, value: value))
            }
        }
        for (column, prefix) in [(4, "tag."), (5, "attribute.")] {
            let object = try? JSONCodable.decode([String: String].self, from: Array((row[column] as String).utf8))
            for (key, value) in (object ?? [:]).sorted(by: { $0.key < $1.key }) {
                groups.append(FleetRule.Group(attribute: prefix + key, value: value))
            }
        }
        groups.append(FleetRule.Group(attribute: "fleet", value: "all"))
        return groups
    }

    /// How many instances the group holds.
    func size(of group: FleetRule.Group) throws -> Int {
        if group.attribute == "fleet" { return try Int.fetchOne(db, sql: "SELECT count(*) FROM instances") ?? 0 }
        for (prefix, column) in [("tag.", "tags"), ("attribute.", "operator_attributes")]
        where group.attribute.hasPrefix(prefix) {
            return try Int.fetchOne(
                db, sql: "SELECT count(*) FROM instances WHERE \(db.dialect.jsonText(column, key: "?")) = ?",
                arguments: [String(group.attribute.dropFirst(prefix.count)), group.value]) ?? 0
        }
        guard FleetRule.attributes.contains(group.attribute) else { return 0 }
        return try Int.fetchOne(
            db, sql: "SELECT count(*) FROM instances WHERE \(group.attribute) = ?", arguments: [group.value]) ?? 0
    }

    /// A new open fleet incident; its id.
    func insertFleetIncident(
        subject: String, checkID: String?, category: String, group: FleetRule.Group, summary: String,
        diagnosis: Diagnosis, at: Double
    ) throws -> Int64 {
        return try Int64.fetchOne(
            db,
            sql: """
                INSERT INTO incidents (kind, check_id, subject, group_attribute, group_value, patterns, categories,
                    severity, state, opened_at, updated_at, summary, diagnosis)
                VALUES ('fleet', ?, ?, ?, ?, 'fleet', ?, 1, 'open', ?, ?, ?, ?)
                RETURNING id
                """,
            arguments: [
                checkID, subject, group.attribute, group.value, category, at, at, summary, try Self.json(diagnosis),
            ])!
    }

    /// Makes `member` part of `fleet`, its pending notifications suppressed; the member's domain.
    func attach(_ member: Int64, to fleet: Int64) throws -> String {
        try db.execute(sql: "UPDATE incidents SET parent_id = ? WHERE id = ?", arguments: [fleet, member])
        try db.execute(
            sql: "UPDATE notifications SET state = 'suppressed' WHERE incident_id = ? AND state = 'pending'",
            arguments: [member])
        return try String.fetchOne(
            db, sql: "SELECT i.domain FROM incidents x JOIN instances i ON i.id = x.instance_id WHERE x.id = ?",
            arguments: [member]) ?? "?"
    }

    /// Sets the fleet incident's member count in its summary and raises its severity to its worst
    /// member's; the severity it had before.
    func refreshFleet(_ fleet: Int64, at: Double) throws -> (previous: Int, now: Int) {
        let (count, severity) =
            try SQLRow.fetchOne(
                db, sql: "SELECT count(DISTINCT instance_id), max(severity) FROM incidents WHERE parent_id = ?",
                arguments: [fleet]
            ).map { ($0[0] as Int, $0[1] as Int? ?? 1) } ?? (0, 1)
        let previous = try Int.fetchOne(db, sql: "SELECT severity FROM incidents WHERE id = ?", arguments: [fleet]) ?? 1
        try db.execute(
            sql: """
                UPDATE incidents SET severity = ?, updated_at = ?,
                    summary = substr(summary, 1, \(db.dialect.position(of: "' ['", in: "summary || ' ['")) - 1)
                        || ' [' || CAST(? AS TEXT) || ' instances]'
                WHERE id = ?
                """, arguments: [max(previous, severity), at, count, fleet])
        return (previous, max(previous, severity))
    }
}
