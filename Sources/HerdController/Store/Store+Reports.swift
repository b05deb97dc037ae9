import Foundation
import HerdProtocol

/// A report that passed every check of Protocol/README.md §3, ready to store.
public struct AcceptedReport: Sendable {
    public var agentID: String
    public var report: Report
    public var receivedAt: Double
    /// The agent's host label in a split instance (`AgentRecord.hostLabel`), empty for the whole
    /// instance: its checks are stored as `CHECK@LABEL`.
    public var hostLabel: String

    public init(agentID: String, report: Report, receivedAt: Double, hostLabel: String = "") {
        self.agentID = agentID
        self.report = report
        self.receivedAt = receivedAt
        self.hostLabel = hostLabel
    }
}

extension CheckStatus {
    /// The integer stored in `check_state.status`, `rollups_hourly.worst` and history frames.
    var code: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .critical: 2
        case .unknown: 3
        }
    }

    init?(code: Int) {
        switch code {
        case 0: self = .ok
        case 1: self = .warning
        case 2: self = .critical
        case 3: self = .unknown
        default: return nil
        }
    }

    /// One letter per raw result in `check_state.recent`.
    var letter: Character {
        switch self {
        case .ok: "o"
        case .warning: "w"
        case .critical: "c"
        case .unknown: "u"
        }
    }
}

extension Store {
    /// How many raw statuses `check_state.recent` keeps: the 21 that flap detection weighs.
    public static let recentLength = 21

    /// Writes `batch` in one transaction (one fsync for all of it). For each report: `true` when
    /// stored, `false` when its sequence was not newer than the agent's last (a retry racing its own
    /// first delivery): nothing of it is stored twice.
    public func write(_ batch: [AcceptedReport], patterns engine: PatternEngine = PatternEngine()) async throws
        -> [Bool]
    {
        let keys = batch.map { Self.historyKey($0.report.collectedAt.timeIntervalSince1970) }
        func store() async throws -> [Bool] {
            try await ensureHistoryPartitions(forKeys: keys)
            return try await write { db in try batch.map { try self.write($0, engine: engine, in: db) } }
        }
        let stored: [Bool]
        do {
            stored = try await store()
        } catch let error as SQLError where error.sqlState == "23514" && error.message.contains("no partition") {
            // Another replica's retention dropped a day this process remembered: make it again.
            historyPartitions.withLock { $0.removeAll() }
            stored = try await store()
        }
        agentCache.withLock { cache in
            for (report, wasStored) in zip(batch, stored) where wasStored { cache.stored(report) }
        }
        return stored
    }

    func write(_ accepted: AcceptedReport, engine: PatternEngine, in db: any SQLDatabase) throws -> Bool {
        var report = accepted.report
        let advanced = try db.execute(
            sql: """
                UPDATE agents SET last_sequence = ?, last_report_at = ?, interval_seconds = ?, agent_version = ?
                WHERE id = ? AND state = 'accepted' AND (last_sequence IS NULL OR last_sequence < ?)
                """,
            arguments: [
                Int64(report.sequence), accepted.receivedAt, Int64(report.intervalSeconds), report.agentVersion,
                accepted.agentID, Int64(report.sequence),
            ])
        guard advanced == 1 else { return false }
        // A split instance's host: its checks are stored as CHECK@HOST beside the other hosts'.
        let host = accepted.hostLabel.isEmpty ? nil : accepted.hostLabel
        if let host {
            for index in report.results.indices {
                report.results[index].checkID = CheckName.qualified(report.results[index].checkID, host: host)
            }
        }

        let instanceID = try Self.instanceID(report.instance, host: report.host, in: db)
        try IncidentBook(engine: engine, db: db).agentReported(
            instanceID: instanceID, check: CheckName.qualified(Self.silentAgentCheck, host: host),
            at: accepted.receivedAt)
        if let lost = report.outboxDropped, lost > 0 {
            try db.execute(
                sql: "UPDATE instances SET reports_lost = reports_lost + ?, reports_lost_at = ? WHERE id = ?",
                arguments: [Int64(clamping: lost), accepted.receivedAt, instanceID])
        }
        let collectedAt = report.collectedAt.timeIntervalSince1970
        try Self.appendHistory(
            instanceID: instanceID, collectedAt: collectedAt, sequence: report.sequence, results: report.results,
            late: Self.mayBePacked(key: Self.historyKey(collectedAt), receivedAt: accepted.receivedAt),
            cache: historyCache, in: db)

        // The current state of every check in one statement (a round trip per report, not per result):
        // since when in this status (kept while the status holds), since when in trouble (kept while not
        // OK), the last raw statuses for flap detection (every expression reads the old row) — and back
        // what the pattern rules keep. A report's check ids are unique (Protocol), so no row is hit twice.
        var rows: [SQLValue] = []
        rows.reserveCapacity(report.results.count * 8)
        for result in report.results {
            rows += [
                .integer(instanceID), .text(result.checkID), .integer(Int64(result.status.code)), .real(collectedAt),
                .text(result.summary), .real(collectedAt), .text(String(result.status.letter)),
                result.status == .ok ? .null : .real(collectedAt),
            ]
        }
        let upsertStates = """
                INSERT INTO check_state (instance_id, check_id, status, since, summary, last_at, recent, trouble_since)
                VALUES \(Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: report.results.count).joined(separator: ", "))
                ON CONFLICT (instance_id, check_id) DO UPDATE SET
                    since = CASE WHEN check_state.status = excluded.status THEN check_state.since ELSE excluded.since END,
                    trouble_since = CASE WHEN excluded.status = 0 THEN NULL
                        ELSE coalesce(check_state.trouble_since, excluded.since) END,
                    status = excluded.status, summary = excluded.summary, last_at = excluded.last_at,
                    recent = \(db.dialect.suffix("check_state.recent || excluded.recent", Self.recentLength))
            """
        guard engine.enabled else {
            if !report.results.isEmpty { try db.execute(sql: upsertStates, arguments: SQLArguments(rows)) }
            try Self.updateInstanceState(instanceID, in: db)
            return true
        }
        var keptByCheck: [String: SQLRow] = [:]
        if !report.results.isEmpty {
            for row in try db.rows(
                sql: upsertStates + "\nRETURNING check_id, recent, trouble_since, patterns, categories, series",
                arguments: SQLArguments(rows))
            {
                keptByCheck[row[0]] = row
            }
        }
        var changes: [PatternChange] = []
        for result in report.results {
            guard let row = keptByCheck[result.checkID] else {
                throw SQLError(kind: .other, message: "no state returned for \(result.checkID)", sql: "check_state")
            }
            let kept = PatternEngine.Kept(
                recent: row[1], troubleSince: row[2], patterns: row[3], categories: row[4], series: row[5])
            let (update, change) = engine.evaluate(result, at: collectedAt, kept: kept)
            if let update {
                try db.execute(
                    sql: """
                        UPDATE check_state SET patterns = ?, categories = ?, series = ?
                        WHERE instance_id = ? AND check_id = ?
                        """,
                    arguments: [update.patterns, update.categories, update.series, instanceID, result.checkID])
            }
            if let change { changes.append(change) }
        }
        if !changes.isEmpty {
            // A split instance's cause may be on another of its hosts: the evidence is every host's latest.
            let evidence = host == nil ? report : try Self.withOtherHosts(report, instanceID: instanceID, in: db)
            try IncidentBook(engine: engine, db: db).apply(
                changes, report: evidence, instanceID: instanceID, at: collectedAt)
        }
        try Self.updateInstanceState(instanceID, in: db)
        return true
    }

    /// The instance's summary for the fleet table, from its (few) current check states.
    static func updateInstanceState(_ instanceID: Int64, in db: any SQLDatabase) throws {
        try db.execute(
            sql: """
                INSERT INTO instance_state (instance_id, severity, failing, warning)
                SELECT instance_id,
                    max(CASE status WHEN 0 THEN 0 WHEN 1 THEN 1 WHEN 3 THEN 2 ELSE 3 END),
                    \(db.dialect.groupConcat("CASE WHEN status IN (2, 3) THEN check_id END")),
                    \(db.dialect.groupConcat("CASE WHEN status = 1 THEN check_id END"))
                FROM check_state WHERE instance_id = ? GROUP BY instance_id
                ON CONFLICT (instance_id) DO UPDATE SET
                    severity = excluded.severity, failing = excluded.failing, warning = excluded.warning
                """,
            arguments: [instanceID])
    }

    /// The instance's row id, creating it, and refreshing the attributes its agent reports only when
    /// they changed (one indexed read per report in the usual case).
    static func instanceID(_ domain: String, host: HostFacts, in db: any SQLDatabase) throws -> Int64 {
        let tags = try jsonObject(host.tags)
        let current = try SQLRow.fetchOne(
            db,
            sql: """
                SELECT id, mastodon_version, object_storage_endpoint, region, provider, tags
                FROM instances WHERE domain = ?
                """, arguments: [domain])
        if let current, current["mastodon_version"] as String? == host.mastodonVersion,
            current["object_storage_endpoint"] as String? == host.objectStorageEndpoint,
            current["region"] as String? == host.region, current["provider"] as String? == host.provider,
            current["tags"] as String == tags
        {
            return current["id"]
        }
        let id: Int64? = try SQLRow.fetchOne(
            db,
            sql: """
                INSERT INTO instances (domain, mastodon_version, object_storage_endpoint, region, provider, tags, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (domain) DO UPDATE SET
                    mastodon_version = excluded.mastodon_version,
                    object_storage_endpoint = excluded.object_storage_endpoint,
                    region = excluded.region, provider = excluded.provider, tags = excluded.tags
                RETURNING id
                """,
            arguments: [
                domain, host.mastodonVersion, host.objectStorageEndpoint, host.region, host.provider, tags, now(),
            ])?[0]
        guard let id else {
            throw SQLError(kind: .other, message: "no instance id returned", sql: "INSERT INTO instances")
        }
        return id
    }

    static func jsonObject(_ tags: [String: String]) throws -> String {
        String(decoding: try JSONCodable.encode(tags), as: UTF8.self)
    }

    /// The last sequence accepted from each agent (nil when none yet).
    public func lastSequence(agentID: String) async throws -> UInt64? {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT last_sequence FROM agents WHERE id = ?", arguments: [agentID])
                .map { UInt64($0) }
        }
    }
}
