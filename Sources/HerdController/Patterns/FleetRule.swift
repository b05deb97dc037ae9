import Foundation
import GRDB
import HerdProtocol

/// Fleet-wide: the same check, or the same error category, in trouble on ≥ `minInstances` distinct
/// instances — or on ≥ `minFraction` of a group of instances sharing an attribute — within the window →
/// ONE fleet incident listing its members. An attribute groups only the trouble it can explain
/// (`explains`): a shared object-storage endpoint explains object-storage errors, not a Redis outage. The group that explains it best is chosen: the attribute whose
/// instances are most affected (12 of the 40 behind one object-storage endpoint beats 12 of the 100 on
/// one Mastodon version). Members' own incidents link to it and their notifications are suppressed
/// (Alertmanager's inhibition), which the group wait before an instance incident notifies makes work.
/// Evaluated when an instance incident opens or its categories change: a query over open incidents,
/// never over history.
struct FleetRule {
    let settings: PatternSettings.Fleet
    let book: IncidentBook
    var db: Database { book.db }

    init(_ settings: PatternSettings.Fleet, book: IncidentBook) {
        self.settings = settings
        self.book = book
    }

    /// Instance attributes that group a fleet, most telling first; tags and operator attributes follow.
    static let attributes = ["object_storage_endpoint", "provider", "region", "mastodon_version"]

    struct Group: Hashable {
        var attribute: String
        var value: String
    }

    /// The subjects an attribute can explain. An attribute not named here — a provider, a region, a tag,
    /// an operator's attribute, the whole fleet — stands for shared infrastructure and explains any.
    static let explains: [String: Set<String>] = [
        "object_storage_endpoint": ["category:object_storage"],
        // A release's regression shows in what the application does, not in the host under it.
        "mastodon_version": [
            "category:other", "category:media_processing", "category:encoding_error",
            "category:sidekiq_backlog_or_retry", "check:logs", "check:api_probe", "check:sidekiq", "check:media",
        ],
    ]

    static func group(_ group: Group, canExplain subject: String) -> Bool {
        explains[group.attribute].map { $0.contains(subject) } ?? true
    }

    func consider(incidentID: Int64, instanceID: Int64, checkID: String, categories: [String], at: Double) throws {
        let allGroups = try groupsOf(instanceID: instanceID)
        let subjects =
            categories.filter { !RecurringCategoryRule.ignored.contains($0) }.map { "category:\($0)" }
            + ["check:\(checkID)"]
        for subject in subjects {
            let groups = allGroups.filter { Self.group($0, canExplain: subject) }
            // An open fleet incident for this trouble whose group this instance is in: join it.
            for group in groups {
                if let fleet = try Int64.fetchOne(
                    db,
                    sql: """
                        SELECT id FROM incidents WHERE kind = 'fleet' AND state = 'open' AND subject = ?
                            AND group_attribute = ? AND group_value = ?
                        """, arguments: [subject, group.attribute, group.value])
                {
                    try link([incidentID], to: fleet, at: at)
                    return
                }
            }
            // Otherwise: is it on enough instances now?
            // Instances, not incidents, are counted: one instance's two incidents are one instance.
            let members = try candidates(subject: subject, since: at - settings.windowSeconds)
            guard Set(members.map(\.instanceID)).count >= 2 else { continue }
            let memberGroups = try members.map { Set(try groupsOf(instanceID: $0.instanceID)) }
            var best: (group: Group, members: [Int64], instances: Int, share: Double)?
            for group in groups {
                let inGroup = zip(members, memberGroups).filter { $0.1.contains(group) }.map(\.0)
                let size = try groupSize(group)
                let k = Set(inGroup.map(\.instanceID)).count
                guard size > 0 else { continue }
                let share = Double(k) / Double(size)
                let qualifies =
                    k >= settings.minInstances || (size >= settings.minGroup && k >= 2 && share >= settings.minFraction)
                guard qualifies else { continue }
                if best == nil || share > best!.share || (share == best!.share && k > best!.instances) {
                    best = (group, inGroup.map(\.incidentID), k, share)
                }
            }
            if let best {
                try open(subject: subject, group: best.group, members: best.members, instances: best.instances, at: at)
                return
            }
        }
    }

    /// Open, unlinked instance incidents with this trouble, updated within the window.
    private func candidates(subject: String, since: Double) throws -> [(incidentID: Int64, instanceID: Int64)] {
        let (kind, value) = Self.split(subject)
        let match =
            kind == "check" ? "check_id = ?" : "(',' || categories || ',') LIKE ('%,' || ? || ',%')"
        return try Row.fetchAll(
            db,
            sql: """
                SELECT id, instance_id FROM incidents
                WHERE kind = 'instance' AND state = 'open' AND parent_id IS NULL AND updated_at >= ? AND \(match)
                """, arguments: [since, value]
        ).map { ($0[0], $0[1]) }
    }

    static func split(_ subject: String) -> (String, String) {
        let parts = subject.split(separator: ":", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }

    func groupsOf(instanceID: Int64) throws -> [Group] { try Self.groups(of: instanceID, in: db) }

    /// Every group the instance is in — its attributes, tags, operator attributes, and the whole fleet —
    /// for the fleet rule and for silences scoped to a group.
    static func groups(of instanceID: Int64, in db: Database) throws -> [Group] {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT object_storage_endpoint, provider, region, mastodon_version, tags, operator_attributes
                        FROM instances WHERE id = ?
                        """), arguments: [instanceID])
        else { return [] }
        var groups: [Group] = []
        for (index, attribute) in Self.attributes.enumerated() {
            if let value = row[index] as String?, !value.isEmpty {
                groups.append(Group(attribute: attribute, value: value))
            }
        }
        for (column, prefix) in [(4, "tag."), (5, "attribute.")] {
            let object = (try? JSONSerialization.jsonObject(with: Data((row[column] as String).utf8))) as? [String: Any]
            for (key, value) in (object ?? [:]).sorted(by: { $0.key < $1.key }) {
                if let text = value as? String { groups.append(Group(attribute: prefix + key, value: text)) }
            }
        }
        groups.append(Group(attribute: "fleet", value: "all"))
        return groups
    }

    private func groupSize(_ group: Group) throws -> Int {
        if group.attribute == "fleet" { return try Int.fetchOne(db, sql: "SELECT count(*) FROM instances") ?? 0 }
        if let key = group.attribute.split(separator: ".", maxSplits: 1).last, group.attribute.hasPrefix("tag.") {
            return try Int.fetchOne(
                db, sql: "SELECT count(*) FROM instances WHERE json_extract(tags, ?) = ?",
                arguments: ["$.\"\(key)\"", group.value]) ?? 0
        }
        if let key = group.attribute.split(separator: ".", maxSplits: 1).last, group.attribute.hasPrefix("attribute.") {
            return try Int.fetchOne(
                db, sql: "SELECT count(*) FROM instances WHERE json_extract(operator_attributes, ?) = ?",
                arguments: ["$.\"\(key)\"", group.value]) ?? 0
        }
        guard Self.attributes.contains(group.attribute) else { return 0 }
        return try Int.fetchOne(
            db, sql: "SELECT count(*) FROM instances WHERE \(group.attribute) = ?", arguments: [group.value]) ?? 0
    }

    private func open(subject: String, group: Group, members: [Int64], instances: Int, at: Double) throws {
        let (kind, value) = Self.split(subject)
        let trouble = kind == "check" ? "\(value) in trouble" : "\(value) errors"
        let place = group.attribute == "fleet" ? "across the fleet" : "sharing \(group.attribute) = \(group.value)"
        let diagnosis = Self.diagnosis(subject: subject, group: group)
        try db.execute(
            sql: """
                INSERT INTO incidents (kind, check_id, subject, group_attribute, group_value, patterns, categories,
                    severity, state, opened_at, updated_at, summary, diagnosis)
                VALUES ('fleet', ?, ?, ?, ?, 'fleet', ?, 1, 'open', ?, ?, ?, ?)
                """,
            arguments: [
                kind == "check" ? value : nil, subject, group.attribute, group.value, kind == "category" ? value : "",
                at, at, "\(trouble) on instances \(place)", try IncidentBook.json(diagnosis),
            ])
        let fleet = db.lastInsertedRowID
        try book.event(fleet, at, "opened", "\(trouble) on \(instances) instances \(place)")
        try book.notify(fleet, "opened", at: at, delay: book.engine.groupWait, suppressed: false)
        try link(members, to: fleet, at: at)
    }

    /// Makes `members` part of `fleet`: linked, their pending notifications suppressed.
    private func link(_ members: [Int64], to fleet: Int64, at: Double) throws {
        for member in members {
            try db.execute(sql: "UPDATE incidents SET parent_id = ? WHERE id = ?", arguments: [fleet, member])
            try db.execute(
                sql: "UPDATE notifications SET state = 'suppressed' WHERE incident_id = ? AND state = 'pending'",
                arguments: [member])
            try book.event(member, at, "grouped", "part of fleet incident #\(fleet); its notifications are the fleet's")
            let domain =
                try String.fetchOne(
                    db, sql: "SELECT i.domain FROM incidents x JOIN instances i ON i.id = x.instance_id WHERE x.id = ?",
                    arguments: [member]) ?? "?"
            try book.event(fleet, at, "member", "\(domain) (incident #\(member))")
        }
        let (count, severity) =
            try Row.fetchOne(
                db, sql: "SELECT count(DISTINCT instance_id), max(severity) FROM incidents WHERE parent_id = ?",
                arguments: [fleet]
            ).map { ($0[0] as Int, $0[1] as Int? ?? 1) } ?? (0, 1)
        let previous = try Int.fetchOne(db, sql: "SELECT severity FROM incidents WHERE id = ?", arguments: [fleet]) ?? 1
        try db.execute(
            sql: """
                UPDATE incidents SET severity = ?, updated_at = ?,
                    summary = substr(summary, 1, instr(summary || ' [', ' [') - 1) || ' [' || ? || ' instances]'
                WHERE id = ?
                """, arguments: [max(previous, severity), at, count, fleet])
        if severity > previous {
            try book.notify(fleet, "escalated", at: at, delay: 0, suppressed: false)
        }
    }

    static func diagnosis(subject: String, group: Group) -> Diagnosis {
        let (kind, value) = split(subject)
        if value == "object_storage" || group.attribute == "object_storage_endpoint" {
            return Diagnosis(
                rule: "provider_incident",
                cause: group.attribute == "object_storage_endpoint"
                    ? "The object storage at \(group.value) fails for every instance using it: the provider's incident"
                    : "Object storage fails on many instances at once",
                evidence: ["\(kind) \(value) on instances sharing \(group.attribute) = \(group.value)"],
                nextStep:
                    "Check the provider's status page and open a ticket with them; nothing to restart on the instances",
                action: nil)
        }
        return Diagnosis(
            rule: "fleet_wide",
            cause: "\(value) fails on many instances at once; what they share: \(group.attribute) = \(group.value)",
            evidence: ["\(kind) \(value) on instances sharing \(group.attribute) = \(group.value)"],
            nextStep:
                "Look for the common cause (a provider, a network, a Mastodon upgrade) before remediating instances one by one",
            action: nil)
    }
}
