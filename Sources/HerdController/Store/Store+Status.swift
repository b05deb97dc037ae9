import Foundation
import HerdProtocol

/// One check's current state on one instance.
public struct CheckStateRecord: Sendable, Hashable {
    public var checkID: String
    public var status: CheckStatus
    /// Since when it has had this status (the first result with it, `collected_at`).
    public var since: Double
    public var summary: String
    public var lastAt: Double
    /// The last raw statuses, oldest first, one letter each (`o w c u`).
    public var recent: String
}

/// A row of the fleet table.
public struct InstanceStatus: Sendable, Hashable {
    public enum Overall: String, Sendable, Hashable, CaseIterable {
        case ok, warning, critical, unknown
        /// The agent stopped reporting (silence for `silence.intervals` intervals).
        case silent
        /// Enrolled, no report yet; or waiting for an operator to accept its agent.
        case waiting
    }

    public var instance: String
    public var overall: Overall
    public var failing: [String]
    public var warning: [String]
    public var lastReportAt: Double?
    public var agentID: String?
    public var agentVersion: String?
    public var agentState: AgentState?

    /// Worst first: critical, silent, unknown, warning, waiting, ok.
    public var severity: Int {
        switch overall {
        case .critical: 5
        case .silent: 4
        case .unknown: 3
        case .warning: 2
        case .waiting: 1
        case .ok: 0
        }
    }
}

/// Tables whose sizes the store reports (for tests, benchmarks and `herdctl`).
public enum StoreTable: String, Sendable, CaseIterable {
    case agents, instances, history, checkState = "check_state"
    case rollups = "rollups_hourly", operators, tokens = "enrollment_tokens"
}

extension Store {
    public func checkStates(instance: String) async throws -> [CheckStateRecord] {
        try await read { db in
            try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT s.* FROM check_state s JOIN instances i ON i.id = s.instance_id
                    WHERE i.domain = ? ORDER BY s.check_id
                    """, arguments: [instance]
            ).map(Self.checkState)
        }
    }

    /// Reports the instance's agent lost before delivering them (its reports' `outbox_dropped`, summed),
    /// and when the last loss was reported; nil for an unknown instance.
    public func lostReports(instance: String) async throws -> (count: Int, lastAt: Double?)? {
        try await read { db in
            try SQLRow.fetchOne(
                db, sql: "SELECT reports_lost, reports_lost_at FROM instances WHERE domain = ?", arguments: [instance]
            ).map { ($0[0], $0[1]) }
        }
    }

    static func checkState(_ row: SQLRow) -> CheckStateRecord {
        CheckStateRecord(
            checkID: row["check_id"], status: CheckStatus(code: row["status"]) ?? .unknown, since: row["since"],
            summary: row["summary"], lastAt: row["last_at"], recent: row["recent"])
    }

    /// Bytes on disk per table and index, for benchmarks and capacity planning: SQLite's `dbstat`, or
    /// PostgreSQL's relation sizes (a table's with its TOAST, without its indexes).
    public func bytesOnDisk() async throws -> [String: Int] {
        try await read { db in
            let sql =
                switch db.dialect {
                case .sqlite: "SELECT name, sum(pgsize) FROM dbstat GROUP BY name"
                case .postgresql:
                    """
                    SELECT c.relname, CAST(CASE c.relkind WHEN 'r' THEN pg_table_size(c.oid)
                        ELSE pg_relation_size(c.oid) END AS bigint)
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'i')
                    """
                }
            var sizes: [String: Int] = [:]
            for row in try SQLRow.fetchAll(db, sql: sql) { sizes[row[0]] = row[1] }
            return sizes
        }
    }

    /// The rows of `table`; for `history`, the reports it holds, a row each or packed.
    public func count(_ table: StoreTable) async throws -> Int {
        try await read { db in
            try Int.fetchOne(
                db,
                sql: table == .history
                    ? """
                    SELECT (SELECT count(*) FROM history) + (SELECT coalesce(sum(reports), 0) FROM history_packed)
                    """
                    : "SELECT count(*) FROM \(table.rawValue)") ?? 0
        }
    }

    /// The fleet table: every instance with a live agent or a report, its worst current status (or
    /// `silent` when its agent has missed `silenceIntervals` intervals), worst first; with `attribute`
    /// (`region`, `tag.NAME`, `attribute.NAME`, … and a value), only the instances that have it.
    public func fleetStatus(now: Double, silenceIntervals: Int, attribute: (name: String, value: String)? = nil)
        async throws -> [InstanceStatus]
    {
        try await read { db in
            var filter = ""
            var arguments: SQLArguments = []
            if let (name, value) = attribute {
                if FleetRule.attributes.contains(name) {
                    filter = "AND i.\(name) = ?"
                    arguments = [value]
                } else {
                    let column = name.hasPrefix("tag.") ? "i.tags" : "i.operator_attributes"
                    filter = "AND \(db.dialect.jsonText(column, key: "?")) = ?"
                    arguments = [String(name.split(separator: ".", maxSplits: 1)[1]), value]
                }
            }
            // Every live agent with its instance's summary row (kept by the write path: worst status by
            // severity ok < warning < unknown < critical, the failing — critical, unknown — and warning
            // check ids), then the instances that have reports but no live agent. Columns by position:
            // this runs over every instance of the fleet.
            let rows = try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT a.instance, a.id, a.state, a.agent_version, a.last_report_at, a.interval_seconds,
                        s.severity, s.failing, s.warning
                    FROM agents a
                    LEFT JOIN instances i ON i.domain = a.instance
                    LEFT JOIN instance_state s ON s.instance_id = i.id
                    WHERE a.state != 'revoked' \(filter)
                    UNION ALL
                    SELECT i.domain, NULL, NULL, NULL, NULL, NULL, s.severity, s.failing, s.warning
                    FROM instance_state s JOIN instances i ON i.id = s.instance_id
                    WHERE NOT EXISTS (SELECT 1 FROM agents a WHERE a.instance = i.domain AND a.state != 'revoked')
                        \(filter)
                    """, arguments: arguments + arguments)
            // An instance split over several hosts has an agent each: its row is its stalest agent's
            // (the one that never reported, else the longest quiet), so one silent host shows.
            var stalest: [String: Int] = [:]
            for (index, row) in rows.enumerated() {
                let instance = row[0] as String
                guard let kept = stalest[instance] else {
                    stalest[instance] = index
                    continue
                }
                let (last, keptLast) = (row[4] as Double?, rows[kept][4] as Double?)
                if let keptLast, last.map({ $0 < keptLast }) ?? true { stalest[instance] = index }
            }
            var out: [InstanceStatus] = []
            for (index, row) in rows.enumerated() where stalest[row[0] as String] == index {
                var status = InstanceStatus(
                    instance: row[0], overall: .waiting, failing: Self.identifiers(row[7]),
                    warning: Self.identifiers(row[8]), lastReportAt: row[4], agentID: row[1], agentVersion: row[3],
                    agentState: (row[2] as String?).flatMap(AgentState.init(rawValue:)))
                if let severity = row[6] as Int? {
                    status.overall = [.ok, .warning, .unknown, .critical][max(0, min(3, severity))]
                }
                if let last = status.lastReportAt, let interval = row[5] as Int?,
                    now - last > Double(interval * silenceIntervals)
                {
                    status.overall = .silent
                }
                out.append(status)
            }
            return out.sorted { ($0.severity, $1.instance) > ($1.severity, $0.instance) }
        }
    }

    /// `a,b,c` (SQLite's `group_concat`) as sorted ids.
    private static func identifiers(_ list: String?) -> [String] {
        guard let list else { return [] }
        return list.split(separator: ",").map(String.init).sorted()
    }
}
