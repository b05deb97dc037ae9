import Foundation
import GRDB
import HerdProtocol
import PostgresNIO
import Synchronization

/// The controller's history: in SQLite (GRDB, WAL, `synchronous = FULL` so a commit is on disk before
/// anyone is told it happened) or in PostgreSQL (postgres-nio), with the same statements, schema and
/// answers. Schema changes are migrations, one per file, frozen once shipped.
public final class Store: Sendable {
    enum Engine: Sendable {
        case sqlite(DatabasePool)
        /// One writer connection (this process's writes, one at a time, as SQLite's) and readers.
        case postgresql(writer: PostgresWorker, readers: [PostgresWorker])
    }

    let engine: Engine
    /// Where the store is: a file path, or the PostgreSQL URL without its password.
    public let location: String
    public var dialect: SQLDialect {
        switch engine {
        case .sqlite: .sqlite
        case .postgresql: .postgresql
        }
    }
    private let nextReader = Atomic<Int>(0)
    /// PostgreSQL only: how to open the connections the election and the event stream hold.
    let postgresConfiguration: PostgresConnection.Configuration?
    /// PostgreSQL only: the connection that holds the leader's advisory lock (`Store+Leadership.swift`).
    let elector: PostgresWorker?
    let leadership = Mutex(Leadership())
    /// Names this store among the replicas on one database: its own events come back to it.
    let replicaID = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    let eventHandlers = Mutex<[@Sendable (StoreEvent) -> Void]>([])
    /// PostgreSQL only: the days whose history partition this process made or found (`Store+Partitions.swift`).
    let historyPartitions = Mutex<Set<Int64>>([])
    /// Whether `history` is partitioned by day (PostgreSQL from migration 0009 on).
    let partitionedHistory: Bool
    /// Agents by certificate fingerprint, as the database has them: every request starts with this
    /// look-up. This process is the database's only writer, so the cache changes exactly where the
    /// database does — a revocation clears it, a stored report advances its agent's sequence.
    let agentCache = Mutex(AgentCache())
    /// Each instance's last history frame (`Store+History.swift`).
    let historyCache = Mutex(HistoryCache())

    /// Opens (creating) the SQLite database and applies every migration — or only those up to
    /// `migrateUpTo`, which tests use to build a database as an older controller left it.
    public init(path: String, migrateUpTo: String? = nil) throws {
        location = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        if let migrateUpTo {
            try Migrations.migrator.migrate(pool, upTo: migrateUpTo)
        } else {
            try Migrations.migrator.migrate(pool)
        }
        engine = .sqlite(pool)
        postgresConfiguration = nil
        elector = nil
        partitionedHistory = false
    }

    /// Connects to PostgreSQL and applies every migration not yet applied (`PostgresSchema`), or only
    /// those up to `migrateUpTo`.
    public init(postgres settings: PostgresStoreSettings, readers: Int = 2, migrateUpTo: String? = nil) throws {
        location = settings.description
        let configuration = try settings.connectionConfiguration()
        let writer = PostgresWorker(label: "herd.store.writer", configuration: configuration)
        partitionedHistory = try writer.sync {
            try writer.runHere(nil) { db in
                try PostgresSchema.migrate(db, upTo: migrateUpTo)
                return try PostgresSchema.applied(db).contains(M0009HistoryPartitions.identifier)
            }
        }
        engine = .postgresql(
            writer: writer,
            readers: (0..<max(1, readers)).map {
                PostgresWorker(label: "herd.store.reader.\($0)", configuration: configuration)
            })
        postgresConfiguration = configuration
        elector = PostgresWorker(label: "herd.store.elector", configuration: configuration)
    }

    /// Opens the store `location` names: a `postgresql://` URL, else a SQLite file path.
    public convenience init(location: String) throws {
        if PostgresStoreSettings.isPostgresURL(location) {
            try self.init(postgres: PostgresStoreSettings(url: location))
        } else {
            try self.init(path: location)
        }
    }

    /// Runs `body` in one read transaction: one snapshot throughout.
    @discardableResult
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T {
        switch engine {
        case .sqlite(let pool): try await pool.read { db in try body(SQLiteDatabase(db)) }
        case .postgresql(_, let readers):
            try await readers[nextReader.add(1, ordering: .relaxed).newValue % readers.count].run(.read, body)
        }
    }

    /// Runs `body` in one write transaction: all of it is stored, or none of it.
    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T {
        switch engine {
        case .sqlite(let pool): try await pool.write { db in try body(SQLiteDatabase(db)) }
        case .postgresql(let writer, _): try await writer.run(.write, body)
        }
    }

    /// Identifiers of the migrations applied to this database, oldest first.
    public func appliedMigrations() throws -> [String] {
        switch engine {
        case .sqlite(let pool): try pool.read { db in try Migrations.migrator.appliedIdentifiers(db) }.sorted()
        case .postgresql(let writer, _): try writer.sync { try writer.runHere(nil) { try PostgresSchema.applied($0) } }
        }
    }

    public func close() throws {
        switch engine {
        case .sqlite(let pool): try pool.close()
        case .postgresql(let writer, let readers):
            for worker in [writer] + readers { worker.close() }
            elector?.close()
            leadership.withLock { $0.epoch = nil }
        }
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
