import Foundation
import HerdProtocol

extension CheckStatus {
    /// Worst first when compared: ok 0, warning 1, unknown 2, critical 3 (as `instance_state.severity`).
    var rank: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .unknown: 2
        case .critical: 3
        }
    }

    init?(letter: UInt8) {
        switch letter {
        case UInt8(ascii: "o"): self = .ok
        case UInt8(ascii: "w"): self = .warning
        case UInt8(ascii: "c"): self = .critical
        case UInt8(ascii: "u"): self = .unknown
        default: return nil
        }
    }
}

/// Incidents, written in the same transaction as the report whose results changed a pattern: an
/// incident is durable exactly when the evidence for it is. One open incident per instance × check;
/// a fleet incident groups the members' (FleetRule). Notifications are queued here, per sink, and sent
/// by `NotificationService`, which never holds up ingest.
struct IncidentBook {
    let engine: PatternEngine
    let db: any SQLDatabase

    struct OpenIncident {
        var id: Int64
        /// The incident's own check (its first).
        var checkID: String
        var patterns: String
        var categories: String
        var severity: Int
        var parentID: Int64?
        /// The rule of the diagnosis it carries.
        var rule: String?
    }

    static func severityName(_ rank: Int) -> String {
        switch rank {
        case 3: "critical"
        case 2: "unknown"
        default: "warning"
        }
    }

    /// One incident per root cause per instance: a check in trouble joins the open incident that
    /// holds it, or the one whose cause — the same diagnosis rule, `DiagnosisRules` being the causal
    /// model — explains it too (a symptom: it opens nothing and pages nobody), or opens its own. An
    /// incident resolves when every check it holds is back to OK.
    func apply(_ changes: [PatternChange], report: Report, instanceID: Int64, at: Double) throws {
        for change in changes {
            if change.after.isEmpty {
                try recovered(change, instanceID: instanceID, at: at)
            } else if let held = try holder(instanceID: instanceID, checkID: change.checkID) {
                try update(held, with: change, report: report, instanceID: instanceID, at: at)
            } else {
                try place(change, report: report, instanceID: instanceID, at: at)
            }
        }
    }

    /// A check in trouble that no open incident holds.
    private func place(_ change: PatternChange, report: Report, instanceID: Int64, at: Double) throws {
        let patterns = change.after.keys.sorted()
        // Back in trouble after recovering while the rest of its incident held it open: that incident.
        if let first = try openIncident(instanceID: instanceID, checkID: change.checkID) {
            try hold(first.id, change, instanceID: instanceID, at: at)
            try update(first, with: change, report: report, instanceID: instanceID, at: at)
            return
        }
        let diagnosis = Diagnoser.diagnose(
            checkID: change.checkID, report: report, patterns: Set(patterns), recent: try recent(instanceID))
        if diagnosis.rule != Diagnoser.unexplained,
            let cause = try openIncident(instanceID: instanceID, rule: diagnosis.rule)
        {
            try hold(cause.id, change, instanceID: instanceID, at: at)
            try event(
                cause.id, at, "symptom",
                "\(change.checkID) \(change.status.rawValue): \(change.summary) — explained by the same cause")
            try escalate(cause, to: change.status.rank, because: change.summary, at: at)
            return
        }
        // A catch-all cause ("5xx that no log line names") gives way to a specific one that explains
        // its check: the same fault, now understood — not a second incident.
        if !DiagnosisRules.catchAll.contains(diagnosis.rule),
            let explains = DiagnosisRules.all.first(where: { $0.id == diagnosis.rule })?.explains,
            let general = try openIncidents(instanceID: instanceID, rules: DiagnosisRules.catchAll)
                .first(where: { explains.contains(CheckName.plain($0.checkID)) })
        {
            try hold(general.id, change, instanceID: instanceID, at: at)
            try db.execute(
                sql: "UPDATE incidents SET diagnosis = ? WHERE id = ?",
                arguments: [try Self.json(diagnosis), general.id])
            try event(
                general.id, at, "diagnosis",
                "\(change.checkID) \(change.status.rawValue): \(diagnosis.cause) — replaces \(general.rule ?? "-")")
            try escalate(general, to: change.status.rank, because: change.summary, at: at)
            return
        }
        let patternText = patterns.map(\.rawValue).joined(separator: ",")
        let details = patterns.map { "\($0.family) (\($0.rawValue)): \(change.after[$0]!)" }.joined(separator: "; ")
        let id = try Int64.fetchOne(
            db,
            sql: """
                INSERT INTO incidents (kind, instance_id, check_id, subject, patterns, categories, severity, state,
                    opened_at, updated_at, summary, diagnosis)
                VALUES ('instance', ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)
                RETURNING id
                """,
            arguments: [
                instanceID, change.checkID, "check:\(CheckName.plain(change.checkID))", patternText,
                change.categories.joined(separator: ","),
                max(1, change.status.rank, Self.worstOfFailingRun(change.recent)), at, at,
                "\(change.checkID) on \(report.instance): \(details) — \(change.summary)", try Self.json(diagnosis),
            ])!
        try hold(id, change, instanceID: instanceID, at: at)
        try event(id, at, "opened", details + " — probable cause: " + diagnosis.cause)
        try notify(id, "opened", at: at, delay: engine.groupWait, suppressed: false)
        try FleetRule(engine.settings.fleet, book: self).consider(
            incidentID: id, instanceID: instanceID, checkID: change.checkID, categories: change.categories, at: at)
    }

    /// A check the incident holds changed its patterns or status. The incident's own check drives its
    /// patterns, categories and diagnosis; a symptom only its severity.
    private func update(
        _ open: OpenIncident, with change: PatternChange, report: Report, instanceID: Int64, at: Double
    ) throws {
        try db.execute(
            sql: "UPDATE incident_checks SET status = ?, summary = ? WHERE incident_id = ? AND check_id = ?",
            arguments: [change.status.code, change.summary, open.id, change.checkID])
        guard open.checkID == change.checkID else {
            try escalate(open, to: change.status.rank, because: change.summary, at: at)
            return
        }
        let patterns = change.after.keys.sorted()
        let patternText = patterns.map(\.rawValue).joined(separator: ",")
        let categories = change.categories.joined(separator: ",")
        let details = patterns.map { "\($0.family) (\($0.rawValue)): \(change.after[$0]!)" }.joined(separator: "; ")
        let summary = "\(change.checkID) on \(report.instance): \(details) — \(change.summary)"
        let severity = max(open.severity, change.status.rank)
        let changedPatterns = patternText != open.patterns
        var diagnosis: String?
        // The cause found while the fault was on is kept: an OK result (a flapping check between
        // failures, a recovery under way) says nothing of the cause, and a later report replaces an
        // explained cause only with another explained one, never with "unexplained".
        if change.status != .ok, changedPatterns || severity > open.severity || categories != open.categories {
            let fresh = Diagnoser.diagnose(
                checkID: change.checkID, report: report, patterns: Set(patterns), recent: try recent(instanceID))
            if fresh.rule != Diagnoser.unexplained || open.rule == nil || open.rule == Diagnoser.unexplained {
                diagnosis = try Self.json(fresh)
            }
        }
        try db.execute(
            sql: """
                UPDATE incidents SET patterns = ?, categories = ?, summary = ?, updated_at = ?,
                    diagnosis = coalesce(?, diagnosis)
                WHERE id = ?
                """, arguments: [patternText, categories, summary, at, diagnosis, open.id])
        if changedPatterns { try event(open.id, at, "patterns", details) }
        try escalate(open, to: change.status.rank, because: change.summary, at: at)
        if categories != open.categories && open.parentID == nil {
            try FleetRule(engine.settings.fleet, book: self).consider(
                incidentID: open.id, instanceID: instanceID, checkID: change.checkID,
                categories: change.categories, at: at)
        }
    }

    /// A check back to OK leaves its incident; the last one out resolves it.
    private func recovered(_ change: PatternChange, instanceID: Int64, at: Double) throws {
        guard let held = try holder(instanceID: instanceID, checkID: change.checkID) else { return }
        try db.execute(
            sql: """
                UPDATE incident_checks SET status = ?, summary = ?, cleared_at = ? WHERE incident_id = ? AND check_id = ?
                """, arguments: [change.status.code, change.summary, at, held.id, change.checkID])
        let remaining = try String.fetchAll(
            db,
            sql: "SELECT check_id FROM incident_checks WHERE incident_id = ? AND cleared_at IS NULL ORDER BY check_id",
            arguments: [held.id])
        let detail = "\(change.checkID) back to \(change.status.rawValue): \(change.summary)"
        guard remaining.isEmpty else {
            try event(held.id, at, "recovering", detail + "; still failing: " + remaining.joined(separator: ", "))
            return
        }
        // A recovery reported while a remediation for this incident runs (its verification still waiting
        // for the service to settle, say) is the remediation's doing.
        let running = try String.fetchOne(
            db,
            sql: """
                SELECT id FROM remediations
                WHERE incident_id = ? AND preview_of IS NULL AND state = 'dispatched' LIMIT 1
                """, arguments: [held.id])
        try resolve(
            held.id, at: at, detail: detail + (running.map { " (remediation \($0) running)" } ?? ""),
            resolution: running == nil ? "self" : "remediation")
    }

    /// The instance's recent raw statuses per check (`check_state.recent`, this report's included):
    /// whether a check recovered between failures is evidence a single report does not hold.
    private func recent(_ instanceID: Int64) throws -> [String: String] {
        var recent: [String: String] = [:]
        for row in try SQLRow.fetchAll(
            db, sql: "SELECT check_id, recent FROM check_state WHERE instance_id = ?", arguments: [instanceID])
        {
            recent[row[0]] = row[1]
        }
        return recent
    }

    /// Makes `change`'s check one the incident holds (again).
    private func hold(_ id: Int64, _ change: PatternChange, instanceID: Int64, at: Double) throws {
        try db.execute(
            sql: """
                INSERT INTO incident_checks (incident_id, instance_id, check_id, status, summary, joined_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (incident_id, check_id) DO UPDATE SET
                    cleared_at = NULL, status = excluded.status, summary = excluded.summary
                """, arguments: [id, instanceID, change.checkID, change.status.code, change.summary, at])
    }

    private func escalate(_ open: OpenIncident, to rank: Int, because why: String, at: Double) throws {
        guard rank > open.severity else {
            try db.execute(sql: "UPDATE incidents SET updated_at = ? WHERE id = ?", arguments: [at, open.id])
            return
        }
        try db.execute(
            sql: "UPDATE incidents SET severity = ?, updated_at = ? WHERE id = ?", arguments: [rank, at, open.id])
        try event(open.id, at, "escalated", "now \(Self.severityName(rank)): \(why)")
        try notify(open.id, "escalated", at: at, delay: 0, suppressed: open.parentID != nil)
    }

    /// The columns of `OpenIncident`, from `incidents x`.
    var openColumns: String {
        "SELECT x.id, x.check_id, x.patterns, x.categories, x.severity, x.parent_id, \(ruleColumn)"
    }

    /// The rule that named the incident's cause.
    var ruleColumn: String { db.dialect.jsonText("x.diagnosis", key: "'rule'") }

    private static func openIncident(_ row: SQLRow) -> OpenIncident {
        OpenIncident(
            id: row[0], checkID: row[1], patterns: row[2], categories: row[3], severity: row[4], parentID: row[5],
            rule: row[6])
    }

    /// The open instance incident whose own check is `checkID`.
    func openIncident(instanceID: Int64, checkID: String) throws -> OpenIncident? {
        try SQLRow.fetchOne(
            db,
            sql: openColumns + """
                 FROM incidents x
                WHERE x.instance_id = ? AND x.check_id = ? AND x.state = 'open' AND x.kind = 'instance'
                """, arguments: [instanceID, checkID]
        ).map(Self.openIncident)
    }

    /// The open instance incident that holds `checkID` (as its own check or as a symptom).
    func holder(instanceID: Int64, checkID: String) throws -> OpenIncident? {
        try SQLRow.fetchOne(
            db,
            sql: openColumns + """
                 FROM incident_checks c JOIN incidents x ON x.id = c.incident_id
                WHERE c.instance_id = ? AND c.check_id = ? AND c.cleared_at IS NULL
                """, arguments: [instanceID, checkID]
        ).map(Self.openIncident)
    }

    /// The open instance incident whose cause is `rule`, the oldest first.
    private func openIncident(instanceID: Int64, rule: String) throws -> OpenIncident? {
        try SQLRow.fetchOne(
            db,
            sql: openColumns + """
                 FROM incidents x
                WHERE x.instance_id = ? AND x.state = 'open' AND x.kind = 'instance'
                    AND \(ruleColumn) = ?
                ORDER BY x.id LIMIT 1
                """, arguments: [instanceID, rule]
        ).map(Self.openIncident)
    }

    /// The open instance incidents whose cause is one of `rules`, the oldest first.
    private func openIncidents(instanceID: Int64, rules: Set<String>) throws -> [OpenIncident] {
        try SQLRow.fetchAll(
            db,
            sql: openColumns + """
                 FROM incidents x
                WHERE x.instance_id = ? AND x.state = 'open' AND x.kind = 'instance'
                    AND \(ruleColumn) IN (\(rules.map { _ in "?" }.joined(separator: ",")))
                ORDER BY x.id
                """, arguments: SQLArguments([instanceID] + rules.sorted().map { $0 as any SQLBindable })
        ).map(Self.openIncident)
    }

    /// The worst status of the current failing run — the raw results since the last OK one — or, when
    /// the newest result is OK (a flapping check), of the whole recent history: never a status from
    /// before the trouble began.
    static func worstOfFailingRun(_ recent: String) -> Int {
        let letters = Array(recent.utf8)
        let run =
            letters.last == UInt8(ascii: "o") ? letters : Array(letters.reversed().prefix { $0 != UInt8(ascii: "o") })
        return max(1, run.compactMap { CheckStatus(letter: $0)?.rank }.max() ?? 1)
    }

    /// Resolves an incident (by itself unless `resolution` says otherwise), settles its notifications,
    /// and resolves its fleet incident when it was the last open member.
    func resolve(_ id: Int64, at: Double, detail: String, resolution: String = "self") throws {
        let parent = try Int64.fetchOne(db, sql: "SELECT parent_id FROM incidents WHERE id = ?", arguments: [id])
        try db.execute(
            sql:
                "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolution = ?, updated_at = ? WHERE id = ?",
            arguments: [at, resolution, at, id])
        try db.execute(
            sql: "UPDATE incident_checks SET cleared_at = ? WHERE incident_id = ? AND cleared_at IS NULL",
            arguments: [at, id])
        try event(id, at, "resolved", detail)
        try settleNotifications(id, at: at)
        if let parent,
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM incidents WHERE parent_id = ? AND state = 'open'", arguments: [parent])
                == 0,
            try String.fetchOne(db, sql: "SELECT state FROM incidents WHERE id = ?", arguments: [parent]) == "open"
        {
            try db.execute(
                sql:
                    "UPDATE incidents SET state = 'resolved', resolved_at = ?, resolution = ?, updated_at = ? WHERE id = ?",
                arguments: [at, resolution, at, parent])
            try event(parent, at, "resolved", "every member instance recovered")
            try settleNotifications(parent, at: at)
        }
    }

    /// On resolve: notifications never attempted are cancelled (nobody heard of it, nobody needs to hear
    /// it is over); a receiver that heard of it — an opening, escalation or repeat sent, or attempted and
    /// so perhaps heard: a sender may have died after the receiver's answer — gets the resolution, after
    /// what it heard (`Store.dueNotifications`).
    private func settleNotifications(_ id: Int64, at: Double) throws {
        let heardOpenings = try String.fetchAll(
            db,
            sql: """
                SELECT DISTINCT sink FROM notifications WHERE incident_id = ? AND transition != 'resolved'
                    AND (state = 'sent' OR (state = 'pending' AND claimed_by IS NOT NULL))
                """,
            arguments: [id])
        try db.execute(
            sql: """
                UPDATE notifications SET state = 'cancelled'
                WHERE incident_id = ? AND state = 'pending' AND claimed_by IS NULL
                """,
            arguments: [id])
        for sink in heardOpenings {
            try db.execute(
                sql: """
                    INSERT INTO notifications (incident_id, transition, sink, created_at, due_at, state)
                    VALUES (?, 'resolved', ?, ?, ?, 'pending') ON CONFLICT DO NOTHING
                    """, arguments: [id, sink, at, at])
        }
    }

    /// Queues `transition` once per receiver the routes choose for the incident (a second time is
    /// ignored: never twice for one transition).
    func notify(_ id: Int64, _ transition: String, at: Double, delay: Double, suppressed: Bool) throws {
        guard !engine.routing.receivers.isEmpty, let facts = try Self.facts(of: id, in: db) else { return }
        for (sink, _) in engine.routing.receivers(for: facts) {
            try db.execute(
                sql: """
                    INSERT INTO notifications (incident_id, transition, sink, created_at, due_at, state)
                    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                    """, arguments: [id, transition, sink, at, at + delay, suppressed ? "suppressed" : "pending"])
        }
    }

    /// What routes look at: the incident's severity, kind, check, instance and categories, and its
    /// instance's attributes (or a fleet incident's group).
    static func facts(of id: Int64, in db: any SQLDatabase) throws -> NotificationRouting.IncidentFacts? {
        guard
            let row = try SQLRow.fetchOne(
                db,
                sql: """
                    SELECT x.severity, x.kind, x.check_id, i.domain, x.categories, x.instance_id, x.group_attribute,
                        x.group_value
                    FROM incidents x LEFT JOIN instances i ON i.id = x.instance_id WHERE x.id = ?
                    """, arguments: [id])
        else { return nil }
        var attributes: [String: Set<String>] = [:]
        if let instanceID = row[5] as Int64? {
            for group in try groups(of: instanceID, in: db) {
                attributes[group.attribute, default: []].insert(group.value)
            }
        }
        if let attribute = row[6] as String?, let value = row[7] as String? {
            attributes[attribute, default: []].insert(value)
        }
        return NotificationRouting.IncidentFacts(
            severity: row[0], kind: row[1], check: row[2], instance: row[3],
            categories: Set((row[4] as String).split(separator: ",").map(String.init)), attributes: attributes)
    }

    func event(_ id: Int64, _ at: Double, _ kind: String, _ detail: String, actor: String? = nil) throws {
        try db.execute(
            sql: "INSERT INTO incident_events (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)",
            arguments: [id, at, kind, actor, String(detail.prefix(2048))])
    }

    static func json(_ diagnosis: Diagnosis) throws -> String {
        String(decoding: try JSONCodable.encode(diagnosis), as: UTF8.self)
    }
}
