import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL check against real clusters that the tests initdb and start (one UTF8, one SQL_ASCII),
/// saturated with real connections, stopped, and replaced by a server that accepts and stalls.
@Suite(.serialized) struct PostgresCheckTests {
    static func env(_ cluster: PostgresCluster, password: String = "mastodon-secret", extra: [String: String] = [:])
        -> [String: String]
    {
        [
            "DB_HOST": "127.0.0.1", "DB_PORT": String(cluster.port), "DB_USER": "mastodon", "DB_PASS": password,
            "DB_NAME": "mastodon_production", "DB_SSLMODE": "disable",
        ].merging(extra) { $1 }
    }

    static func start(encoding: String = "UTF8", settings: [String] = [], hba: [String] = [], tls: Bool = false)
        async throws -> PostgresCluster
    {
        try await offThread {
            let cluster = try PostgresCluster(encoding: encoding, settings: settings, hba: hba, tls: tls)
            try cluster.createMastodonDatabase()
            return cluster
        }
    }

    /// Opens `count` connections as the mastodon user and keeps them until `body` returns.
    static func holding<T>(_ count: Int, _ cluster: PostgresCluster, _ body: ([PostgresConnection]) async throws -> T)
        async throws -> T
    {
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        var connections: [PostgresConnection] = []
        // PostgresNIO insists on a close before a connection goes away.
        func closeAll() async {
            for connection in connections { try? await connection.close() }
        }
        do {
            for i in 0..<count {
                connections.append(
                    try await PostgresConnection.connect(
                        configuration: .init(
                            host: "127.0.0.1", port: cluster.port, username: "mastodon", password: "mastodon-secret",
                            database: "mastodon_production", tls: .disable),
                        id: i, logger: logger))
            }
            let result = try await body(connections)
            await closeAll()
            return result
        } catch {
            await closeAll()
            throw error
        }
    }

    @Test func aHealthyDatabaseOverTCPAndOverTheSocket() async throws {
        let cluster = try await Self.start(settings: ["max_connections = 100"])
        defer { cluster.stop() }
        let unit = "[Service]\nExecStart=/home/mastodon/.rbenv/shims/bundle exec sidekiq -c 25\n"
        let outcome = try await runServiceCheck(
            PostgresCheck(), env: Self.env(cluster),
            files: ["/etc/systemd/system/mastodon-sidekiq.service": unit])
        #expect(outcome.status == .ok, "\(outcome.summary)")
        #expect(outcome.metrics["connections.available"] == 97)
        #expect(outcome.metrics["encoding.utf8"] == 1)
        // 2 × 5 web threads + sidekiq -c 25 + one streaming instance × 10.
        #expect(outcome.metrics["pool_budget"] == 45)
        #expect((outcome.metrics["connections.in_use"] ?? 0) >= 1)
        #expect(outcome.metrics["tls"] == 0)
        // libpq's default, prefer: this server has no TLS, so the check goes on in the clear.
        let preferred = try await runServiceCheck(
            PostgresCheck(), env: Self.env(cluster, extra: ["DB_SSLMODE": "prefer"]))
        #expect(preferred.status == .ok && preferred.metrics["tls"] == 0, "\(preferred.summary)")

        // Mastodon's usual DB_HOST=/var/run/postgresql: the socket directory, under the host root.
        let socket = try await runServiceCheck(
            PostgresCheck(), env: Self.env(cluster, extra: ["DB_HOST": "/var/run/postgresql"]),
            links: ["/var/run/postgresql": cluster.socketDirectory])
        #expect(socket.status == .ok, "\(socket.summary)")
    }

    @Test func aPoolBudgetBeyondTheLimitWarns() async throws {
        let cluster = try await Self.start()  // max_connections 20, 3 reserved
        defer { cluster.stop() }
        let outcome = try await runServiceCheck(
            PostgresCheck(),
            env: Self.env(cluster, extra: ["WEB_CONCURRENCY": "3", "MAX_THREADS": "5", "DB_POOL": "25"]))
        #expect(outcome.status == .warning, "\(outcome.summary)")
        #expect(outcome.metrics["pool_budget"] == 65)  // 3×5 web + 25 sidekiq (DB_POOL) + 1×25 streaming
        #expect(outcome.findings.map(\.signature) == ["pool budget exceeds max_connections"])
        #expect(outcome.summary.contains("web 3×5, sidekiq 25, streaming 1×25"))
    }

    @Test func aNonUTF8DatabaseIsCritical() async throws {
        let cluster = try await Self.start(encoding: "SQL_ASCII", settings: ["max_connections = 100"])
        defer { cluster.stop() }
        let outcome = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster))
        #expect(outcome.status == .critical)
        #expect(outcome.findings.map(\.category) == [.encodingError])
        #expect(outcome.summary.contains("SQL_ASCII"))
    }

    @Test func saturationThenTooManyClients() async throws {
        let cluster = try await Self.start()  // 20 - 3 reserved = 17 for Mastodon
        defer { cluster.stop() }
        let env = Self.env(cluster, extra: ["WEB_CONCURRENCY": "1", "MAX_THREADS": "1", "DB_POOL": "1"])
        try await Self.holding(15, cluster) { _ in
            let nearlyFull = try await runServiceCheck(PostgresCheck(), env: env)
            #expect(nearlyFull.status == .critical, "\(nearlyFull.summary)")
            #expect(nearlyFull.metrics["connections.in_use"] == 16)
            #expect(nearlyFull.findings.map(\.category) == [.dbConnectionLimit])
        }
        try await Self.holding(17, cluster) { _ in
            let full = try await runServiceCheck(PostgresCheck(), env: env)
            #expect(full.status == .critical)
            #expect(full.findings.map(\.signature) == ["PostgreSQL too many clients"])
            #expect(full.findings.map(\.category) == [.dbConnectionLimit])
        }
    }

    @Test func anOldOpenTransactionWarns() async throws {
        let cluster = try await Self.start(settings: ["max_connections = 100"])
        defer { cluster.stop() }
        try await Self.holding(1, cluster) { connections in
            let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            try await connections[0].query("BEGIN", logger: logger)
            try await connections[0].query("SELECT txid_current()", logger: logger)
            try await Task.sleep(for: .milliseconds(1500))
            let outcome = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster)) {
                $0.postgresTransactionAgeWarning = .seconds(1)
            }
            #expect(outcome.status == .warning, "\(outcome.summary)")
            #expect((outcome.metrics["oldest_transaction_s"] ?? 0) >= 1)
            #expect(outcome.metrics["connections.idle_in_transaction"] == 1)
        }
    }

    @Test func failuresAreClassified() async throws {
        let cluster = try await Self.start()
        let wrong = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster, password: "not-it"))
        #expect(wrong.findings.map(\.signature) == ["PostgreSQL authentication failed"])
        #expect(!wrong.summary.contains("not-it"))
        let missing = try await runServiceCheck(
            PostgresCheck(), env: Self.env(cluster, extra: ["DB_NAME": "no_such_db"]))
        #expect(missing.findings.map(\.signature) == ["PostgreSQL database missing"])
        let noPassword = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster, password: ""))
        #expect(noPassword.findings.map(\.signature) == ["PostgreSQL authentication failed"])
        #expect(noPassword.summary.contains("DB_PASS is empty"), "\(noPassword.summary)")
        let insisting = try await runServiceCheck(
            PostgresCheck(), env: Self.env(cluster, extra: ["DB_SSLMODE": "require"]))
        #expect(insisting.findings.map(\.signature) == ["PostgreSQL TLS failure"])
        #expect(insisting.summary.contains("does not offer TLS"), "\(insisting.summary)")
        let port = cluster.port
        try await offThread { cluster.stop() }
        let refused = try await runServiceCheck(
            PostgresCheck(), env: ["DB_HOST": "127.0.0.1", "DB_PORT": String(port), "DB_SSLMODE": "disable"])
        #expect(refused.status == .critical)
        #expect(refused.findings.map(\.signature) == ["PostgreSQL connection refused"])
        #expect(refused.findings.map(\.category) == [.dbConnection])
        let socket = try await runServiceCheck(PostgresCheck(), env: ["DB_HOST": "/var/run/postgresql"])
        #expect(socket.findings.map(\.signature) == ["PostgreSQL socket missing"])
        let unconfigured = try await runServiceCheck(PostgresCheck(), env: ["DB_SSLMODE": "sometimes"])
        #expect(unconfigured.status == .unknown)
    }

    /// MD5 and cleartext password authentication, which older installs and poolers still ask for.
    @Test func md5AndCleartextPasswords() async throws {
        let cluster = try await Self.start(
            settings: ["max_connections = 100", "password_encryption = md5"],
            hba: ["host all mastodon 127.0.0.1/32 md5", "host all plain 127.0.0.1/32 password"])
        defer { cluster.stop() }
        _ = try await offThread { try cluster.sql("CREATE ROLE plain LOGIN PASSWORD 'plain-secret'") }
        let md5 = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster))
        #expect(md5.status == .ok, "\(md5.summary)")
        let wrong = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster, password: "not-it"))
        #expect(wrong.findings.map(\.signature) == ["PostgreSQL authentication failed"])
        let plain = try await runServiceCheck(
            PostgresCheck(), env: Self.env(cluster, password: "plain-secret", extra: ["DB_USER": "plain"]))
        #expect(plain.status == .ok, "\(plain.summary)")
    }

    /// A server that takes the mastodon user over TLS only, with a certificate no one trusts: each
    /// sslmode does what libpq's does.
    @Test func tlsAsTheSSLModeSays() async throws {
        let cluster = try await Self.start(
            settings: ["max_connections = 100"], hba: ["hostnossl all mastodon 127.0.0.1/32 reject"], tls: true)
        defer { cluster.stop() }
        for mode in ["prefer", "require"] {
            let outcome = try await runServiceCheck(
                PostgresCheck(), env: Self.env(cluster, extra: ["DB_SSLMODE": mode]))
            #expect(outcome.status == .ok && outcome.metrics["tls"] == 1, "\(mode): \(outcome.summary)")
        }
        let clear = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster))  // disable
        #expect(clear.findings.map(\.signature) == ["PostgreSQL authentication failed"], "\(clear.summary)")
        #expect(clear.summary.contains("no encryption"), "\(clear.summary)")
        for mode in ["verify-ca", "verify-full"] {
            let outcome = try await runServiceCheck(
                PostgresCheck(), env: Self.env(cluster, extra: ["DB_SSLMODE": mode]))
            #expect(outcome.findings.map(\.signature) == ["PostgreSQL TLS failure"], "\(mode): \(outcome.summary)")
        }
    }

    @Test func aServerThatAcceptsAndStallsTimesOut() async throws {
        let silent = try SilentListener()
        defer { silent.close() }
        let started = ContinuousClock.now
        let outcome = try await runServiceCheck(
            PostgresCheck(), env: ["DB_HOST": "127.0.0.1", "DB_PORT": String(silent.port), "DB_SSLMODE": "disable"]
        ) { $0.serviceTimeout = .milliseconds(500) }
        #expect(outcome.status == .critical)
        #expect(outcome.findings.map(\.signature) == ["PostgreSQL timed out"])
        #expect(started.duration(to: .now) < .seconds(5))
    }

    /// A server that authenticates the check and then never says it is ready (a superuser holds
    /// pg_database exclusively, which every backend's startup reads): the check still returns at its
    /// deadline — unlike the silent listener, this server speaks the protocol up to that point.
    @Test func aQueryThatNeverReturnsTimesOut() async throws {
        let cluster = try await Self.start(settings: ["max_connections = 100"])
        defer { cluster.stop() }
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let superuser = try await PostgresConnection.connect(
            configuration: .init(
                host: "127.0.0.1", port: cluster.port, username: "postgres", password: "postgres-secret",
                database: "mastodon_production", tls: .disable),
            id: 99, logger: logger)
        try await superuser.query("BEGIN", logger: logger)
        try await superuser.query("LOCK TABLE pg_catalog.pg_database IN ACCESS EXCLUSIVE MODE", logger: logger)
        let started = ContinuousClock.now
        let outcome = try await runServiceCheck(PostgresCheck(), env: Self.env(cluster)) {
            $0.serviceTimeout = .seconds(1)
        }
        try await superuser.query("ROLLBACK", logger: logger)
        try await superuser.close()
        #expect(outcome.status == .critical)
        #expect(outcome.findings.map(\.signature) == ["PostgreSQL timed out"])
        #expect(started.duration(to: .now) < .seconds(5))
    }

    @Test(arguments: [
        ("postgres://masto:p%40ss@db.internal:6432/mastodon?sslmode=require", "masto@db.internal:6432/mastodon"),
        (
            "postgresql:///mastodon_production?host=/var/run/postgresql",
            "mastodon@/var/run/postgresql/.s.PGSQL.5432/mastodon_production"
        ),
    ])
    func databaseURLs(url: String, described: String) throws {
        let settings = try PostgresSettings.mastodon(from: ["DATABASE_URL": url, "DB_HOST": "ignored"])
        #expect(settings.description == described)
        if url.contains("p%40ss") { #expect(settings.password == "p@ss" && settings.sslMode == .require) }
    }
}
