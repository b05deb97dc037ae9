import Foundation
import GRDB
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
    let db: Database

    struct OpenIncident {
        var id: Int64
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

    func apply(_ changes: [PatternChange], report: Report, instanceID: Int64, at: Double) throws {
        for change in changes {
            let open = try openIncident(instanceID: instanceID, checkID: change.checkID)
            if change.after.isEmpty {
                if let open {
                    // A recovery reported while a remediation for this incident runs (its verification
                    // still waiting for the service to settle, say) is the remediation's doing.
                    let running = try String.fetchOne(
                        db,
                        sql: """
                            SELECT id FROM remediations
                            WHERE incident_id = ? AND preview_of IS NULL AND state = 'dispatched' LIMIT 1
                            """, arguments: [open.id])
                    try resolve(
                        open.id, at: at,
                        detail: "\(change.checkID) back to \(change.status.rawValue): \(change.summary)"
                            + (running.map { " (remediation \($0) running)" } ?? ""),
                        resolution: running == nil ? "self" : "remediation")
                }
                continue
            }
            let patterns = change.after.keys.sorted()
            let patternText = patterns.map(\.rawValue).joined(separator: ",")
            let categories = change.categories.joined(separator: ",")
            let details = patterns.map { "\($0.family) (\($0.rawValue)): \(change.after[$0]!)" }.joined(separator: "; ")
            let summary = "\(change.checkID) on \(report.instance): \(details) — \(change.summary)"
            let worstRecent = Self.worstOfFailingRun(change.recent)
            if let open {
                let severity = max(open.severity, change.status.rank)
                let changedPatterns = patternText != open.patterns
                var diagnosis: String?
                // The cause found while the fault was on is kept: an OK result (a flapping check between
                // failures, a recovery under way) says nothing of the cause, and a later report replaces
                // an explained cause only with another explained one, never with "unexplained".
                if change.status != .ok, changedPatterns || severity > open.severity || categories != open.categories {
                    let fresh = Diagnoser.diagnose(checkID: change.checkID, report: report, patterns: Set(patterns))
                    if fresh.rule != Diagnoser.unexplained || open.rule == nil || open.rule == Diagnoser.unexplained {
                        diagnosis = try Self.json(fresh)
                    }
                }
                try db.execute(
                    sql: """
                        UPDATE incidents SET patterns = ?, categories = ?, severity = ?, summary = ?, updated_at = ?,
                            diagnosis = coalesce(?, diagnosis)
                        WHERE id = ?
                        """, arguments: [patternText, categories, severity, summary, at, diagnosis, open.id])
                if changedPatterns { try event(open.id, at, "patterns", details) }
                if severity > open.severity {
                    try event(open.id, at, "escalated", "now \(Self.severityName(severity)): \(change.summary)")
                    try notify(open.id, "escalated", at: at, delay: 0, suppressed: open.parentID != nil)
                }
                if categories != open.categories && open.parentID == nil {
                    try FleetRule(engine.settings.fleet, book: self).consider(
                        incidentID: open.id, instanceID: instanceID, checkID: change.checkID,
                        categories: change.categories, at: at)
                }
                continue
            }
            let diagnosis = Diagnoser.diagnose(checkID: change.checkID, report: report, patterns: Set(patterns))
            try db.execute(
                sql: """
                    INSERT INTO incidents (kind, instance_id, check_id, subject, patterns, categories, severity, state,
                        opened_at, updated_at, summary, diagnosis)
                    VALUES ('instance', ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?)
                    """,
                arguments: [
                    instanceID, change.checkID, "check:\(change.checkID)", patternText, categories,
                    max(1, change.status.rank, worstRecent), at, at, summary, try Self.json(diagnosis),
                ])
            let id = db.lastInsertedRowID
            try event(id, at, "opened", details + " — probable cause: " + diagnosis.cause)
            try notify(id, "opened", at: at, delay: engine.groupWait, suppressed: false)
            try FleetRule(engine.settings.fleet, book: self).consider(
                incidentID: id, instanceID: instanceID, checkID: change.checkID, categories: change.categories, at: at)
        }
    }

    func openIncident(instanceID: Int64, checkID: String) throws -> OpenIncident? {
        try Row.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT id, patterns, categories, severity, parent_id, json_extract(diagnosis, '$.rule') FROM incidents
                    WHERE instance_id = ? AND check_id = ? AND state = 'open' AND kind = 'instance'
                    """), arguments: [instanceID, checkID]
        ).map {
            OpenIncident(
                id: $0[0], patterns: $0[1], categories: $0[2], severity: $0[3], parentID: $0[4], rule: $0[5])
        }
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

    /// On resolve: notifications not sent yet are cancelled (nobody heard of it, nobody needs to hear it
    /// is over); where the opening was sent, the resolution is queued.
    private func settleNotifications(_ id: Int64, at: Double) throws {
        let sentOpenings = try String.fetchAll(
            db,
            sql: "SELECT sink FROM notifications WHERE incident_id = ? AND transition = 'opened' AND state = 'sent'",
            arguments: [id])
        try db.execute(
            sql: "UPDATE notifications SET state = 'cancelled' WHERE incident_id = ? AND state = 'pending'",
            arguments: [id])
        for sink in sentOpenings {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO notifications (incident_id, transition, sink, created_at, due_at, state)
                    VALUES (?, 'resolved', ?, ?, ?, 'pending')
                    """, arguments: [id, sink, at, at])
        }
    }

    /// Queues `transition` once per sink (a second time is ignored: never twice for one transition).
    func notify(_ id: Int64, _ transition: String, at: Double, delay: Double, suppressed: Bool) throws {
        for sink in engine.sinks {
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO notifications (incident_id, transition, sink, created_at, due_at, state)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [id, transition, sink, at, at + delay, suppressed ? "suppressed" : "pending"])
        }
    }

    func event(_ id: Int64, _ at: Double, _ kind: String, _ detail: String, actor: String? = nil) throws {
        try db.execute(
            sql: "INSERT INTO incident_events (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)",
            arguments: [id, at, kind, actor, String(detail.prefix(2048))])
    }

    static func json(_ diagnosis: Diagnosis) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(diagnosis), as: UTF8.self)
    }
}
