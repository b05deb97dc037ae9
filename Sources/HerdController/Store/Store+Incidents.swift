import Foundation
import HerdProtocol

public struct IncidentRecord: Sendable, Hashable {
    public var id: Int64
    /// `instance` or `fleet`.
    public var kind: String
    public var instance: String?
    public var checkID: String?
    public var subject: String
    public var groupAttribute: String?
    public var groupValue: String?
    public var patterns: [String]
    public var categories: [String]
    /// 1 warning, 2 unknown, 3 critical.
    public var severity: Int
    public var state: String
    public var openedAt: Double
    public var updatedAt: Double
    public var acknowledgedBy: String?
    public var acknowledgedAt: Double?
    public var resolvedAt: Double?
    public var resolution: String?
    public var parentID: Int64?
    public var summary: String
    public var diagnosis: Diagnosis?
    /// Fleet incidents: member instances, and those with a member incident still open.
    public var members = 0
    public var openMembers = 0
    /// Instance incidents: every check it holds — its own first, then the symptoms the same cause
    /// explains — whether still failing or not.
    public var checks: [String] = []

    public var severityName: String { IncidentBook.severityName(severity) }

    init(row: SQLRow) {
        id = row["id"]
        kind = row["kind"]
        instance = row["domain"]
        checkID = row["check_id"]
        subject = row["subject"]
        groupAttribute = row["group_attribute"]
        groupValue = row["group_value"]
        patterns = (row["patterns"] as String).split(separator: ",").map(String.init)
        categories = (row["categories"] as String).split(separator: ",").map(String.init)
        severity = row["severity"]
        state = row["state"]
        openedAt = row["opened_at"]
        updatedAt = row["updated_at"]
        acknowledgedBy = row["acknowledged_by"]
        acknowledgedAt = row["acknowledged_at"]
        resolvedAt = row["resolved_at"]
        resolution = row["resolution"]
        parentID = row["parent_id"]
        summary = row["summary"]
        diagnosis = (row["diagnosis"] as String?).flatMap {
            try? JSONCodable.decode(Diagnosis.self, from: Array($0.utf8))
        }
        members = row["members"] ?? 0
        openMembers = row["open_members"] ?? 0
        let held = ((row["checks"] as String?) ?? "").split(separator: ",").map(String.init)
        checks = checkID.map { own in [own] + held.filter { $0 != own }.sorted() } ?? held.sorted()
    }
}

public struct IncidentEventRecord: Sendable, Hashable {
    public var at: Double
    public var kind: String
    public var actor: String?
    public var detail: String
}

public struct NotificationRecord: Sendable, Hashable {
    public var id: Int64
    public var incidentID: Int64
    public var transition: String
    public var sink: String
    public var state: String
    public var attempts: Int
    public var dueAt: Double
    public var sentAt: Double?
    public var lastError: String?
    /// A `repeated` notification's number (1, 2, …); 0 for every other transition.
    public var repetition = 0
}

public struct IncidentDetail: Sendable, Hashable {
    public var incident: IncidentRecord
    public var events: [IncidentEventRecord]
    public var members: [IncidentRecord]
    public var notifications: [NotificationRecord]
}

/// A check with an active pattern right now (`herdctl patterns`).
public struct ActivePattern: Sendable, Hashable {
    public var instance: String
    public var checkID: String
    public var status: CheckStatus
    public var patterns: [String]
    public var recent: String
    public var troubleSince: Double?
    public var summary: String
}

extension Store {
    static func incidentColumns(_ dialect: SQLDialect) -> String {
        """
        x.*, i.domain,
            (SELECT count(DISTINCT m.instance_id) FROM incidents m WHERE m.parent_id = x.id) AS members,
            (SELECT count(DISTINCT m.instance_id) FROM incidents m WHERE m.parent_id = x.id AND m.state = 'open')
                AS open_members,
            (SELECT \(dialect.groupConcat("c.check_id")) FROM incident_checks c WHERE c.incident_id = x.id) AS checks
        FROM incidents x LEFT JOIN instances i ON i.id = x.instance_id
        """
    }

    /// Incidents, newest first, at most `limit`: open ones only (or `state` open or resolved), of one
    /// instance (its own, and fleet incidents it is a member of), holding one check, changed since an
    /// instant, or older than the incident `before` (the next page).
    public func incidents(
        openOnly: Bool, state: String? = nil, instance: String? = nil, check: String? = nil, since: Double? = nil,
        before: Int64? = nil, limit: Int = 500
    ) async throws -> [IncidentRecord] {
        var conditions: [String] = []
        var arguments: SQLArguments = []
        if let state = openOnly ? "open" : state {
            conditions.append("x.state = ?")
            arguments += [state]
        }
        if let instance {
            conditions.append(
                """
                (i.domain = ? OR EXISTS (SELECT 1 FROM incidents m JOIN instances mi ON mi.id = m.instance_id
                    WHERE m.parent_id = x.id AND mi.domain = ?))
                """)
            arguments += [instance, instance]
        }
        if let check {
            // A plain id holds a split instance's hosts too: `disk` is also `disk@db-1`.
            let plain = !check.contains("@")
            func match(_ column: String) -> String {
                plain ? "(\(column) = ? OR substr(\(column), 1, \(check.utf8.count + 1)) = ?)" : "\(column) = ?"
            }
            conditions.append(
                "(\(match("x.check_id")) OR EXISTS (SELECT 1 FROM incident_checks c WHERE c.incident_id = x.id AND \(match("c.check_id"))))"
            )
            let values = plain ? [check, check + "@"] : [check]
            arguments += SQLArguments(values + values)
        }
        if let since {
            conditions.append("x.updated_at >= ?")
            arguments += [since]
        }
        if let before {
            conditions.append("x.id < ?")
            arguments += [before]
        }
        arguments += [limit]
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return try await read { [arguments] db in
            try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT \(Self.incidentColumns(db.dialect))
                    \(filter) ORDER BY x.id DESC LIMIT ?
                    """, arguments: arguments
            ).map(IncidentRecord.init)
        }
    }

    public func incident(id: Int64) async throws -> IncidentDetail? {
        try await read { db in
            guard
                let row = try SQLRow.fetchOne(
                    db, sql: "SELECT \(Self.incidentColumns(db.dialect)) WHERE x.id = ?", arguments: [id])
            else { return nil }
            let events = try SQLRow.fetchAll(
                db, sql: "SELECT at, kind, actor, detail FROM incident_events WHERE incident_id = ? ORDER BY at, rowid",
                arguments: [id]
            ).map { IncidentEventRecord(at: $0[0], kind: $0[1], actor: $0[2], detail: $0[3]) }
            let members = try SQLRow.fetchAll(
                db, sql: "SELECT \(Self.incidentColumns(db.dialect)) WHERE x.parent_id = ? ORDER BY i.domain",
                arguments: [id]
            ).map(IncidentRecord.init)
            return IncidentDetail(
                incident: IncidentRecord(row: row), events: events, members: members,
                notifications: try Self.notifications(db, where: "incident_id = ?", [id]))
        }
    }

    static func notifications(
        _ db: any SQLDatabase, where condition: String, _ arguments: SQLArguments, limit: Int = 10_000
    ) throws -> [NotificationRecord] {
        try SQLRow.fetchAll(
            db,
            sql: """
                SELECT id, incident_id, transition, sink, state, attempts, due_at, sent_at, last_error, repetition
                FROM notifications WHERE \(condition) ORDER BY id LIMIT \(limit)
                """, arguments: arguments
        ).map {
            NotificationRecord(
                id: $0[0], incidentID: $0[1], transition: $0[2], sink: $0[3], state: $0[4], attempts: $0[5],
                dueAt: $0[6], sentAt: $0[7], lastError: $0[8], repetition: $0[9])
        }
    }

    /// Records who has taken an incident in hand; audited. Acknowledging twice keeps the first.
    public func acknowledge(incident id: Int64, by actor: String, now: Double = now()) async throws -> IncidentRecord {
        try await write { db in
            guard let state = try String.fetchOne(db, sql: "SELECT state FROM incidents WHERE id = ?", arguments: [id])
            else { throw WireError(.notFound, "no incident \(id)") }
            guard state == "open" else { throw WireError(.invalidField, "incident \(id) is resolved") }
            try db.execute(
                sql: """
                    UPDATE incidents SET acknowledged_by = coalesce(acknowledged_by, ?),
                        acknowledged_at = coalesce(acknowledged_at, ?) WHERE id = ?
                    """, arguments: [actor, now, id])
            try db.execute(
                sql:
                    "INSERT INTO incident_events (incident_id, at, kind, actor, detail) VALUES (?, ?, 'acknowledged', ?, ?)",
                arguments: [id, now, actor, "acknowledged by \(actor)"])
            try AuditChain.append(
                db, at: now, actor: actor, action: "incident.ack", subject: "incident:\(id)", detail: "")
            return IncidentRecord(
                row: try SQLRow.fetchOne(
                    db, sql: "SELECT \(Self.incidentColumns(db.dialect)) WHERE x.id = ?", arguments: [id])!)
        }
    }

    /// Checks with an active pattern, worst first.
    public func activePatterns() async throws -> [ActivePattern] {
        try await read { db in
            try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT i.domain, s.check_id, s.status, s.patterns, s.recent, s.trouble_since, s.summary
                    FROM check_state s JOIN instances i ON i.id = s.instance_id
                    WHERE s.patterns != '' ORDER BY s.status DESC, i.domain, s.check_id
                    """
            ).map {
                ActivePattern(
                    instance: $0[0], checkID: $0[1], status: CheckStatus(code: $0[2]) ?? .unknown,
                    patterns: ($0[3] as String).split(separator: ",").map(String.init), recent: $0[4],
                    troubleSince: $0[5], summary: $0[6])
            }
        }
    }
}
