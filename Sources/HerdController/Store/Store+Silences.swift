import Foundation
import HerdProtocol

public struct SilenceRecord: Sendable, Hashable {
    public enum Scope: String, Sendable, Hashable, CaseIterable {
        case instance, check, category, group
    }

    public var id: Int64
    public var scope: Scope
    /// A domain, a check id, an error category, or `ATTRIBUTE=VALUE`.
    public var value: String
    public var startsAt: Double
    public var endsAt: Double
    public var createdBy: String
    public var reason: String
    public var createdAt: Double
    public var expiredAt: Double?
    public var expiredBy: String?

    init(row: SQLRow) {
        id = row["id"]
        scope = Scope(rawValue: row["scope"]) ?? .instance
        value = row["value"]
        startsAt = row["starts_at"]
        endsAt = row["ends_at"]
        createdBy = row["created_by"]
        reason = row["reason"]
        createdAt = row["created_at"]
        expiredAt = row["expired_at"]
        expiredBy = row["expired_by"]
    }

    public func isActive(at now: Double) -> Bool { expiredAt == nil && startsAt <= now && now < endsAt }
}

/// Silences and maintenance windows: notifications of matching incidents are not sent (the incidents
/// are still recorded, with the silence in their timeline). They end on their own; every one is audited.
extension Store {
    /// The longest a silence may last: a year. Longer is a configuration change, not a silence.
    public static let maxSilenceSeconds = 366.0 * 86_400

    public func addSilence(
        scope: SilenceRecord.Scope, value: String, startsAt: Double, endsAt: Double, reason: String, by actor: String,
        now: Double = now()
    ) async throws -> SilenceRecord {
        switch scope {
        case .instance:
            guard Rule.isInstanceName(value) else { throw WireError(.invalidField, "value: not an instance name") }
        case .check, .category:
            guard Rule.isIdentifier(value) else { throw WireError(.invalidField, "value: not an identifier") }
        case .group:
            let parts = value.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, parts[1].utf8.count <= 256,
                FleetRule.attributes.contains(parts[0]) || parts[0].hasPrefix("tag.")
                    || parts[0].hasPrefix("attribute."),
                !parts[1].contains(where: { $0.isNewline })
            else {
                throw WireError(
                    .invalidField,
                    "value: ATTRIBUTE=VALUE with one of \(FleetRule.attributes.joined(separator: ", ")), tag.NAME, attribute.NAME"
                )
            }
        }
        let reason = String(reason.trimmed(" "))
        guard !reason.isEmpty, reason.utf8.count <= Limits.maxReasonBytes, !reason.contains(where: \.isNewline) else {
            throw WireError(.invalidField, "reason: one line, 1 to \(Limits.maxReasonBytes) bytes")
        }
        guard endsAt > startsAt, endsAt > now, endsAt - startsAt <= Self.maxSilenceSeconds,
            startsAt < now + Self.maxSilenceSeconds
        else { throw WireError(.invalidField, "ends_at must be after starts_at and now, within a year") }
        return try await write { db in
            let id = try Int64.fetchOne(
                db,
                sql: """
                    INSERT INTO silences (scope, value, starts_at, ends_at, created_by, reason, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id
                    """, arguments: [scope.rawValue, value, startsAt, endsAt, actor, reason, now])!
            try AuditChain.append(
                db, at: now, actor: actor, action: "silence.add", subject: "silence:\(id)",
                detail:
                    "\(scope.rawValue) \(value) from \(WireTime.format(startsAt.instant)) to \(WireTime.format(endsAt.instant)): \(reason)"
            )
            return SilenceRecord(
                row: try SQLRow.fetchOne(db, sql: "SELECT * FROM silences WHERE id = ?", arguments: [id])!)
        }
    }

    /// Silences not yet over (active or in the future), or every one.
    public func silences(includeEnded: Bool, now: Double = now()) async throws -> [SilenceRecord] {
        try await read { db in
            try SQLRow.fetchAll(
                db,
                sql: includeEnded
                    ? "SELECT * FROM silences ORDER BY id DESC LIMIT 1000"
                    : "SELECT * FROM silences WHERE expired_at IS NULL AND ends_at > ? ORDER BY starts_at",
                arguments: includeEnded ? [] : [now]
            ).map(SilenceRecord.init)
        }
    }

    public func expireSilence(id: Int64, by actor: String, now: Double = now()) async throws -> SilenceRecord {
        try await write { db in
            guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM silences WHERE id = ?", arguments: [id]) else {
                throw WireError(.notFound, "no silence \(id)")
            }
            let silence = SilenceRecord(row: row)
            guard silence.expiredAt == nil, silence.endsAt > now else {
                throw WireError(.invalidField, "silence \(id) is already over")
            }
            try db.execute(
                sql: "UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ?", arguments: [now, actor, id])
            try AuditChain.append(
                db, at: now, actor: actor, action: "silence.expire", subject: "silence:\(id)", detail: "")
            return SilenceRecord(
                row: try SQLRow.fetchOne(db, sql: "SELECT * FROM silences WHERE id = ?", arguments: [id])!)
        }
    }

    /// The active silence covering this incident, if any.
    static func silence(covering incidentID: Int64, at now: Double, in db: any SQLDatabase) throws -> SilenceRecord? {
        let active = try SQLRow.fetchAll(
            db, sql: "SELECT * FROM silences WHERE expired_at IS NULL AND starts_at <= ? AND ends_at > ? ORDER BY id",
            arguments: [now, now]
        ).map(SilenceRecord.init)
        guard !active.isEmpty,
            let incident = try SQLRow.fetchOne(
                db,
                sql: """
                    SELECT x.instance_id, x.check_id, x.categories, x.group_attribute, x.group_value, i.domain
                    FROM incidents x LEFT JOIN instances i ON i.id = x.instance_id WHERE x.id = ?
                    """, arguments: [incidentID])
        else { return nil }
        let instanceID: Int64? = incident[0]
        let checkID: String? = incident[1]
        let categories = Set((incident[2] as String).split(separator: ",").map(String.init))
        let domain: String? = incident[5]
        var groups: Set<String> = []
        if let instanceID {
            for group in try IncidentBook.groups(of: instanceID, in: db) {
                groups.insert("\(group.attribute)=\(group.value)")
            }
        }
        if let attribute = incident[3] as String?, let value = incident[4] as String? {
            groups.insert("\(attribute)=\(value)")
        }
        return active.first { silence in
            switch silence.scope {
            case .instance: silence.value == domain
            case .check: silence.value == checkID || silence.value == checkID.map(CheckName.plain)
            case .category: categories.contains(silence.value)
            case .group: groups.contains(silence.value)
            }
        }
    }
}
