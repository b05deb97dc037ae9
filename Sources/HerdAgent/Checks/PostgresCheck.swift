import FoundationEssentials
import HerdProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Playbook step 3, "check the database and its connections": connect as Mastodon does (settings from
/// `.env.production`) and time `SELECT 1`; connections in use by state against `max_connections` minus
/// `superuser_reserved_connections`; the oldest open transaction; `server_encoding` and the database's
/// encoding and collation; and the pool budget — the connections Mastodon's processes may open
/// (WEB_CONCURRENCY × MAX_THREADS + Sidekiq's `-c` + each streaming process's pool) against the limit.
public struct PostgresCheck: Check {
    public let id = "postgresql"
    public let title = "PostgreSQL: reachable, connections vs limit, pool budget, oldest transaction, encoding"
    public let playbookStep = "3 · check the database and its connections"

    public init() {}

    /// What the server told us.
    struct Snapshot: Sendable, Hashable {
        var selectOneMilliseconds: Double
        var maxConnections: Int
        var reservedConnections: Int
        var serverEncoding: String
        var databaseEncoding: String
        var collation: String
        var ctype: String
        /// Client backends by `state` (`active`, `idle`, `idle in transaction`, …; `unknown` when hidden).
        var connectionsByState: [String: Int]
        var oldestTransactionSeconds: Double
        /// Whether the connection is encrypted (the server agreed to TLS).
        var tls = false
    }

    public func run(in context: CheckContext) async throws -> CheckOutcome {
        guard let env = context.mastodon.env else {
            return .unknown("cannot read \(context.mastodon.envProblem ?? context.mastodon.envFile)")
        }
        var settings: PostgresSettings
        do {
            settings = try PostgresSettings.mastodon(from: env.values)
        } catch {
            return .unknown(error.description)
        }
        if case .unix(let path) = settings.address { settings.address = .unix(path: context.filesystem.resolve(path)) }
        let budget = await PoolBudget.read(context, env: env.values)
        let timeout = min(context.configuration.serviceTimeout, context.remaining)
        do {
            let snapshot = try await Self.query(settings, timeout: timeout)
            return Self.evaluate(snapshot, budget: budget, configuration: context.configuration)
        } catch {
            return Self.unreachable(error, settings)
        }
    }

    // MARK: Talking to the server

    /// Connects and reads within `timeout`. When time runs out the connection is closed under the
    /// queries (a task group waits for its children, and a query on a stalled server would not end by
    /// cancellation alone), so the check returns on time whatever the server does.
    static func query(_ settings: PostgresSettings, timeout: Duration) async throws(PostgresCheckError) -> Snapshot {
        let open = NIOLockedValueBox<(any Channel)?>(nil)
        do {
            let tls = try tlsPolicy(settings)
            return try await withThrowingTaskGroup(of: Snapshot?.self) { group in
                group.addTask {
                    try await PostgresWireSession.open(
                        settings, tls: tls, connectTimeout: .milliseconds(max(1, timeout.milliseconds)),
                        connected: { channel in open.withLockedValue { $0 = channel } }, read)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer {
                    group.cancelAll()
                    open.withLockedValue { $0 }?.close(promise: nil)
                }
                guard let first = try await group.next(), let snapshot = first else {
                    throw PostgresCheckError(.timeout, "\(settings): no answer within \(timeout.milliseconds) ms")
                }
                return snapshot
            }
        } catch let error as PostgresCheckError {
            throw error
        } catch {
            throw classify(error, settings)
        }
    }

    private static func read(_ session: inout PostgresWireSession) async throws -> Snapshot {
        let clock = ContinuousClock()
        let started = clock.now
        _ = try await session.query("SELECT 1")
        let selectOne = (clock.now - started).fractionalMilliseconds

        let settings = try await session.query(
            """
            SELECT current_setting('max_connections'), current_setting('superuser_reserved_connections'),
                   current_setting('server_encoding'), pg_encoding_to_char(d.encoding), d.datcollate, d.datctype
            FROM pg_database d WHERE d.datname = current_database()
            """)
        guard settings.count == 1, settings[0].count == 6, let max = settings[0][0].flatMap({ Int($0) }),
            let reserved = settings[0][1].flatMap({ Int($0) })
        else { throw PostgresWireError.protocolViolation("an unexpected answer about the server's settings") }
        var snapshot = Snapshot(
            selectOneMilliseconds: selectOne, maxConnections: max, reservedConnections: reserved,
            serverEncoding: settings[0][2] ?? "", databaseEncoding: settings[0][3] ?? "",
            collation: settings[0][4] ?? "", ctype: settings[0][5] ?? "", connectionsByState: [:],
            oldestTransactionSeconds: 0)
        for row in try await session.query(
            """
            SELECT coalesce(state, 'unknown'), count(*) FROM pg_stat_activity
            WHERE backend_type = 'client backend' GROUP BY 1
            """)
        {
            guard row.count == 2, let state = row[0], let count = row[1].flatMap({ Int($0) }) else {
                throw PostgresWireError.protocolViolation("an unexpected answer about connections")
            }
            snapshot.connectionsByState[state] = count
        }
        let oldest = try await session.query(
            """
            SELECT coalesce(max(extract(epoch FROM now() - xact_start)), 0)::float8 FROM pg_stat_activity
            WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend'
            """)
        guard oldest.count == 1, oldest[0].count == 1, let age = oldest[0][0].flatMap({ Double($0) }) else {
            throw PostgresWireError.protocolViolation("an unexpected answer about transactions")
        }
        snapshot.oldestTransactionSeconds = age
        snapshot.tls = session.usesTLS
        return snapshot
    }

    /// libpq's sslmode: `prefer`/`allow` try TLS without verifying (as libpq does), `require` insists
    /// without verifying, `verify-ca` verifies the chain against the system roots, `verify-full` the
    /// host name as well. Never below TLS 1.2.
    static func tlsPolicy(_ settings: PostgresSettings) throws -> PostgresTLSPolicy {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        switch settings.sslMode {
        case .disable: return .disabled
        case .allow, .prefer:
            tls.certificateVerification = .none
            return .preferred(try NIOSSLContext(configuration: tls))
        case .require:
            tls.certificateVerification = .none
            return .required(try NIOSSLContext(configuration: tls), serverHostname: nil)
        case .verifyCA:
            tls.certificateVerification = .noHostnameVerification
            return .required(try NIOSSLContext(configuration: tls), serverHostname: nil)
        case .verifyFull:
            var hostname: String?
            if case .tcp(let host, _) = settings.address, !host.contains(":"),
                !host.allSatisfy({ $0.isNumber || $0 == "." })
            {
                hostname = host
            }
            return .required(try NIOSSLContext(configuration: tls), serverHostname: hostname)
        }
    }

    static func classify(_ error: any Error, _ settings: PostgresSettings) -> PostgresCheckError {
        if let error = error as? PostgresCheckError { return error }
        if let error = error as? PostgresWireError {
            switch error {
            case .server(let state, let message):
                switch state {
                case "53300": return PostgresCheckError(.tooManyClients, "\(settings): \(message)")
                case "28P01", "28000": return PostgresCheckError(.authFailed, "\(settings): \(message)")
                case "3D000": return PostgresCheckError(.databaseMissing, "\(settings): \(message)")
                default: return PostgresCheckError(.failed, "\(settings): \(state) \(message)")
                }
            case .passwordRequired, .unsupportedAuthentication:
                return PostgresCheckError(.authFailed, "\(settings): \(error)")
            case .tlsRefused: return PostgresCheckError(.tls, "\(settings): \(error)")
            case .invalidParameter: return PostgresCheckError(.configuration, "\(settings): \(error)")
            case .protocolViolation, .closed: return PostgresCheckError(.failed, "\(settings): \(error)")
            }
        }
        if let failure = NetworkFailure.classify(error) {
            return PostgresCheckError(
                PostgresCheckError.Kind(rawValue: failure.kind.rawValue) ?? .failed, "\(settings): \(failure.detail)")
        }
        if error is ByteToMessageDecoderError || error is ByteToMessageDecoderError.PayloadTooLargeError {
            return PostgresCheckError(.failed, "\(settings): protocol violation: \(error)")
        }
        return PostgresCheckError(.failed, "\(settings): \(error)")
    }

    static func unreachable(_ error: PostgresCheckError, _ settings: PostgresSettings) -> CheckOutcome {
        let (category, signature): (FindingCategory, String) =
            switch error.kind {
            case .tooManyClients: (.dbConnectionLimit, "PostgreSQL too many clients")
            case .refused: (.dbConnection, "PostgreSQL connection refused")
            case .socketMissing: (.dbConnection, "PostgreSQL socket missing")
            case .permissionDenied: (.dbConnection, "PostgreSQL socket permission denied")
            case .dns: (.dbConnection, "PostgreSQL host name does not resolve")
            case .authFailed: (.dbConnection, "PostgreSQL authentication failed")
            case .databaseMissing: (.dbConnection, "PostgreSQL database missing")
            case .timeout: (.dbConnection, "PostgreSQL timed out")
            case .tls: (.tlsError, "PostgreSQL TLS failure")
            case .configuration, .failed: (.dbConnection, "PostgreSQL connection failed")
            }
        guard error.kind != .configuration else { return .unknown(error.description) }
        return CheckOutcome(
            .critical, error.description,
            findings: [Finding(category: category, signature: signature, count: 1, sample: error.description)])
    }

    // MARK: Judging

    static func evaluate(_ snapshot: Snapshot, budget: PoolBudget, configuration: AgentConfiguration) -> CheckOutcome {
        var status = CheckStatus.ok
        var problems: [String] = []
        var findings: [Finding] = []
        func raise(_ level: CheckStatus, _ text: String, _ category: FindingCategory? = nil, _ signature: String? = nil)
        {
            status = max(status, level)
            problems.append(text)
            if let category, let signature {
                findings.append(Finding(category: category, signature: signature, count: 1, sample: text))
            }
        }
        let available = max(1, snapshot.maxConnections - snapshot.reservedConnections)
        let inUse = snapshot.connectionsByState.values.reduce(0, +)
        let idleInTransaction = snapshot.connectionsByState.filter { $0.key.hasPrefix("idle in transaction") }
            .values.reduce(0, +)
        let usage = Double(inUse) / Double(available) * 100
        var metrics: [String: Double] = [
            "select1_ms": (snapshot.selectOneMilliseconds * 100).rounded() / 100,
            "connections.in_use": Double(inUse), "connections.available": Double(available),
            "connections.max": Double(snapshot.maxConnections), "connections.used_percent": usage.rounded(),
            "connections.active": Double(snapshot.connectionsByState["active"] ?? 0),
            "connections.idle": Double(snapshot.connectionsByState["idle"] ?? 0),
            "connections.idle_in_transaction": Double(idleInTransaction),
            "oldest_transaction_s": snapshot.oldestTransactionSeconds.rounded(),
            "encoding.utf8": snapshot.serverEncoding == "UTF8" ? 1 : 0, "tls": snapshot.tls ? 1 : 0,
        ].merging(budget.metrics) { $1 }
        if usage >= configuration.postgresConnectionsCriticalPercent {
            raise(
                .critical, "\(inUse) of \(available) connections in use", .dbConnectionLimit,
                "PostgreSQL connections nearly exhausted")
        } else if usage >= configuration.postgresConnectionsWarningPercent {
            raise(
                .warning, "\(inUse) of \(available) connections in use", .dbConnectionLimit,
                "PostgreSQL connections nearly exhausted")
        }
        if budget.total > available {
            raise(
                .warning,
                "Mastodon's pools may open \(budget.total) connections (\(budget.explanation)), the server allows \(available)",
                .dbConnectionLimit, "pool budget exceeds max_connections")
        }
        if snapshot.serverEncoding != "UTF8" || snapshot.databaseEncoding != "UTF8" {
            raise(
                .critical,
                "encoding \(snapshot.databaseEncoding) (server \(snapshot.serverEncoding)): Mastodon needs UTF8",
                .encodingError, "PostgreSQL database not UTF8")
        }
        if snapshot.oldestTransactionSeconds >= configuration.postgresTransactionAgeWarning.seconds {
            raise(.warning, "a transaction open for \(Int(snapshot.oldestTransactionSeconds)) s")
        }
        if idleInTransaction > 0, Double(idleInTransaction) >= Double(inUse) * 0.2, idleInTransaction >= 5 {
            raise(.warning, "\(idleInTransaction) connections idle in transaction")
        }
        metrics["connections.reserved"] = Double(snapshot.reservedConnections)
        var summary =
            "SELECT 1 in \((snapshot.selectOneMilliseconds * 10).rounded() / 10) ms, \(inUse)/\(available) connections"
            + " (\(idleInTransaction) idle in transaction), pool budget \(budget.total), \(snapshot.databaseEncoding)"
            + " \(snapshot.collation)"
        if !problems.isEmpty { summary = problems.joined(separator: "; ") + " — " + summary }
        return CheckOutcome(status, summary, metrics: metrics, findings: findings)
    }
}

/// The connections Mastodon's processes may open at once, from what the host says about them.
struct PoolBudget: Sendable, Hashable {
    var workers: Int
    var threads: Int
    /// `DB_POOL` when set: Rails' pool per process (else MAX_THREADS for puma, the concurrency for Sidekiq).
    var dbPool: Int?
    var sidekiq: Int
    var streamingInstances: Int
    var streamingPool: Int
    var web: Int { workers * threads }
    var streaming: Int { streamingInstances * streamingPool }
    var total: Int { web + sidekiq + streaming }
    var explanation: String {
        "web \(workers)×\(threads), sidekiq \(sidekiq), streaming \(streamingInstances)×\(streamingPool)"
    }

    /// What the controller needs to tell a pool too small for its threads from a server out of
    /// connections, with the host's own numbers.
    var metrics: [String: Double] {
        var metrics = [
            "pool_budget": Double(total), "pool.web_workers": Double(workers), "pool.web_threads": Double(threads),
            "pool.sidekiq_threads": Double(sidekiq),
        ]
        if let dbPool { metrics["pool.db_pool"] = Double(dbPool) }
        return metrics
    }

    /// Web: WEB_CONCURRENCY (2) × MAX_THREADS (5); Sidekiq: `-c N` in the unit's ExecStart, else DB_POOL,
    /// else 5; streaming: one pool of DB_POOL (10) per `mastodon-streaming@` instance.
    static func read(_ context: CheckContext, env: [String: String]) async -> PoolBudget {
        func number(_ key: String, _ fallback: Int) -> Int {
            env[key].flatMap { Int($0) }.map { max(0, $0) } ?? fallback
        }
        let workers = number("WEB_CONCURRENCY", 2)
        let threads = number("MAX_THREADS", 5)
        let pool = env["DB_POOL"].flatMap { Int($0) }
        let unit = context.configuration.sidekiqUnit
        let filesystem = context.filesystem
        let systemd = context.host.systemd
        let pattern = context.configuration.streamingUnits
        let remaining = context.remaining
        let (sidekiq, streamingInstances) =
            (try? await HostThread.run { () -> (Int?, Int) in
                let unitFile = ["/etc/systemd/system/\(unit)", "/lib/systemd/system/\(unit)"].lazy
                    .compactMap { try? filesystem.readText($0, maxBytes: 64 << 10) }.first
                let instances = (try? systemd.listUnits(matching: pattern, timeout: remaining).count) ?? 1
                return (unitFile.flatMap(sidekiqConcurrency), max(1, instances))
            }) ?? (nil, 1)
        let sidekiqThreads = sidekiq ?? pool ?? 5
        let streamingPool = pool ?? 10
        return PoolBudget(
            workers: workers, threads: threads, dbPool: pool, sidekiq: sidekiqThreads,
            streamingInstances: streamingInstances, streamingPool: streamingPool)
    }

    /// `N` of `sidekiq -c N` / `--concurrency N` in a unit file's ExecStart.
    static func sidekiqConcurrency(_ unitFile: String) -> Int? {
        for line in unitFile.split(separator: "\n") where line.hasPrefix("ExecStart=") {
            let words = line.split(separator: " ")
            for (i, word) in words.enumerated() where word == "-c" || word == "--concurrency" {
                if i + 1 < words.count, let n = Int(words[i + 1]) { return n }
            }
        }
        return nil
    }
}
