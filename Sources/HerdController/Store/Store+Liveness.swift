import Foundation
import HerdProtocol

extension Store {
    /// The check id of the incident a silent agent opens on its instance (no agent check has it).
    public static let silentAgentCheck = "agent"

    /// Opens an incident for each accepted agent that has sent nothing for `intervals` of its own
    /// intervals — the first failure a monitoring system must catch: a dead host reports nothing at
    /// all. It notifies like any other, and the fleet rule groups several silent at once behind a
    /// shared attribute (a provider, a region). The agent's next report resolves it (`write`).
    /// Returns the instances newly silent.
    @discardableResult
    public func openSilentAgentIncidents(now: Double, intervals: Int, patterns engine: PatternEngine) async throws
        -> [String]
    {
        try await writeAsLeader { db in
            // Each agent's own check: `agent`, or `agent@HOST` for a host of a split instance (one host
            // silent while the others report is still an incident).
            func check(_ label: String) -> String {
                CheckName.qualified(Self.silentAgentCheck, host: label.isEmpty ? nil : label)
            }
            let silent = try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT i.id, i.domain, a.id, a.last_report_at, a.interval_seconds, a.host_label FROM agents a
                    JOIN instances i ON i.domain = a.instance
                    WHERE a.state = 'accepted' AND a.last_report_at IS NOT NULL
                        AND a.last_report_at < ? - a.interval_seconds * ?
                    ORDER BY i.domain, a.host_label
                    """, arguments: [now, intervals])
            let book = IncidentBook(engine: engine, db: db)
            // An instance's host left with no accepted agent (revoked) has nobody to be silent.
            var live = Set<String>()
            for row in try SQLRow.fetchAll(
                db, sql: "SELECT instance, host_label FROM agents WHERE state = 'accepted'")
            {
                live.insert((row[0] as String) + " " + check(row[1]))
            }
            for row in try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT x.id, i.domain, x.check_id FROM incidents x JOIN instances i ON i.id = x.instance_id
                    WHERE (x.check_id = ? OR x.check_id LIKE ?) AND x.state = 'open' AND x.kind = 'instance'
                    """, arguments: [Self.silentAgentCheck, Self.silentAgentCheck + "@%"])
            where !live.contains((row[1] as String) + " " + (row[2] as String)) {
                try book.resolve(row[0], at: now, detail: "the instance has no accepted agent there any more")
            }
            var opened: [String] = []
            for row in silent {
                let (instanceID, domain, agentID) = (row[0] as Int64, row[1] as String, row[2] as String)
                let (last, interval) = (row[3] as Double, row[4] as Int)
                let checkID = check(row[5])
                guard try book.openIncident(instanceID: instanceID, checkID: checkID) == nil else { continue }
                try book.openSilent(
                    instanceID: instanceID, domain: domain, agentID: agentID, checkID: checkID, lastReportAt: last,
                    intervalSeconds: interval, intervals: intervals, at: now)
                opened.append(domain)
            }
            return opened
        }
    }
}

extension IncidentBook {
    func openSilent(
        instanceID: Int64, domain: String, agentID: String, checkID check: String, lastReportAt: Double,
        intervalSeconds: Int, intervals: Int, at: Double
    ) throws {
        let quiet = Int((at - lastReportAt).rounded())
        let host = CheckName.host(check).map { " on \($0)" } ?? ""
        let diagnosis = Diagnosis(
            rule: "agent_silent",
            cause:
                "The agent of \(domain)\(host) has sent nothing for \(quiet) s (\(intervals) intervals of \(intervalSeconds) s): the host is down or unreachable, or herd-agent stopped",
            evidence: ["agent \(agentID): last report \(quiet) s ago, every \(intervalSeconds) s expected"],
            nextStep:
                "Reach the host (ping, ssh); if it is up: systemctl status herd-agent and journalctl -u herd-agent; if it is down: the provider's console",
            action: nil)
        let summary = "\(check) on \(domain): silent — no report for \(quiet) s"
        let id = try Int64.fetchOne(
            db,
            sql: """
                INSERT INTO incidents (kind, instance_id, check_id, subject, patterns, categories, severity, state,
                    opened_at, updated_at, summary, diagnosis)
                VALUES ('instance', ?, ?, ?, 'silent', '', 3, 'open', ?, ?, ?, ?)
                RETURNING id
                """,
            arguments: [
                instanceID, check, "check:\(CheckName.plain(check))", at, at, summary, try Self.json(diagnosis),
            ])!
        try db.execute(
            sql: """
                INSERT INTO incident_checks (incident_id, instance_id, check_id, status, summary, joined_at)
                VALUES (?, ?, ?, 2, ?, ?)
                """, arguments: [id, instanceID, check, summary, at])
        try event(id, at, "opened", "silent: no report for \(quiet) s — probable cause: " + diagnosis.cause)
        try notify(id, "opened", at: at, delay: engine.groupWait, suppressed: false)
        try FleetRule(engine.settings.fleet, book: self).consider(
            incidentID: id, instanceID: instanceID, checkID: check, categories: [], at: at)
    }

    /// A report arrived: the instance's silent-agent incident, if one is open, is over.
    func agentReported(instanceID: Int64, check: String, at: Double) throws {
        guard let open = try openIncident(instanceID: instanceID, checkID: check) else { return }
        let since = try Double.fetchOne(db, sql: "SELECT opened_at FROM incidents WHERE id = ?", arguments: [open.id])
        try resolve(
            open.id, at: at,
            detail: "the agent reported again"
                + (since.map { ", \(Int((at - $0).rounded())) s after it was paged" } ?? ""))
    }
}
