import Foundation
import GRDB
import HerdProtocol
import Synchronization

/// The controller's history in SQLite (GRDB, WAL, `synchronous = FULL` so a commit is on disk before
/// anyone is told it happened). Schema changes are migrations, one per file, frozen once shipped.
public final class Store: Sendable {
    let pool: DatabasePool
    public let path: String
    /// Agents by certificate fingerprint, as the database has them: every request starts with this
    /// look-up. This process is the database's only writer, so the cache changes exactly where the
    /// database does — a revocation clears it, a stored report advances its agent's sequence.
    let agentCache = Mutex(AgentCache())
    /// Each instance's last history frame (`Store+History.swift`).
    let historyCache = Mutex(HistoryCache())

    /// Opens (creating) the database and applies every migration — or only those up to `migrateUpTo`,
    /// which tests use to build a database as an older controller left it.
    public init(path: String, migrateUpTo: String? = nil) throws {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        if let migrateUpTo {
            try Migrations.migrator.migrate(pool, upTo: migrateUpTo)
        } else {
            try Migrations.migrator.migrate(pool)
        }
    }

    /// Identifiers of the migrations applied to this database, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Migrations.migrator.appliedIdentifiers(db) }.sorted()
    }

    public func close() throws {
        try pool.close()
    }

    public static func now() -> Double { Date().timeIntervalSince1970 }
}

/// The agents that called recently, by certificate fingerprint, and each one's fingerprint by id.
struct AgentCache: Sendable {
    private var byFingerprint: [String: AgentRecord] = [:]
    private var fingerprintByID: [String: String] = [:]

    subscript(fingerprint: String) -> AgentRecord? { byFingerprint[fingerprint] }

    mutating func insert(_ agent: AgentRecord) {
        guard let fingerprint = agent.certificateFingerprint else { return }
        byFingerprint[fingerprint] = agent
        fingerprintByID[agent.id] = fingerprint
    }

    /// A report of `agentID` is durable: what the database now says about the agent.
    mutating func stored(_ report: AcceptedReport) {
        guard let fingerprint = fingerprintByID[report.agentID], var agent = byFingerprint[fingerprint],
            agent.lastSequence.map({ $0 < report.report.sequence }) ?? true
        else { return }
        agent.lastSequence = report.report.sequence
        agent.lastReportAt = report.receivedAt
        agent.intervalSeconds = Int(report.report.intervalSeconds)
        agent.agentVersion = report.report.agentVersion
        byFingerprint[fingerprint] = agent
    }

    /// A command result of `agentID` is durable: its sequence is the agent's last.
    mutating func advance(agentID: String, to sequence: UInt64) {
        guard let fingerprint = fingerprintByID[agentID], var agent = byFingerprint[fingerprint],
            agent.lastSequence.map({ $0 < sequence }) ?? true
        else { return }
        agent.lastSequence = sequence
        byFingerprint[fingerprint] = agent
    }

    mutating func remove(agentID: String) {
        guard let fingerprint = fingerprintByID.removeValue(forKey: agentID) else { return }
        byFingerprint[fingerprint] = nil
    }
}
