import ArgumentParser
import Foundation
import HerdAgent
import HerdTestSupport
import Logging
import PostgresNIO

/// The service checks against real local servers: a redis-server holding a busy instance's Sidekiq data
/// and a PostgreSQL cluster, both started here on free loopback ports and stopped at the end.
struct ServiceChecksBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Cost of the service checks per cycle, and of reconnecting vs reusing a connection.",
        discussion: """
            Starts redis-server, a PostgreSQL cluster, a Mastodon stand-in and nginx with TLS in front of it, \
            all on free loopback ports, and stops them at the end. `--only ID` runs one check alone (for \
            scripts/bench-allocations.sh, which counts its allocations under valgrind).
            """)

    @Option(help: "Cycles per check.")
    var cycles = 200

    @Option(help: "Measure only this check (sidekiq, postgresql, mastodon.http, mastodon.api_probe).")
    var only: String?

    @Flag(help: "Start the servers, print an .env.production for them, and wait (for RSS measurements).")
    var serve = false

    func run() async throws {
        let redis = try await RedisServer.start(password: "bench-secret")
        let postgres = try await offThread {
            let cluster = try PostgresCluster(settings: ["max_connections = 200"])
            try cluster.createMastodonDatabase()
            return cluster
        }
        let app = try MastodonStandIn()
        app.setRateLimit("api", limit: 1_000_000)
        let certificates = try TemporaryDirectory("herd-bench-certs")
        let tls = try TestCertificateAuthority().writeServer(names: ["social.test"], daysLeft: 90, into: certificates)
        let nginx = try NginxServer(
            sites: [.init(backend: app.port, streaming: app.port, tls: (tls.certificate, tls.key))])
        defer {
            redis.stop()
            postgres.stop()
            nginx.stop()
            app.stop()
            certificates.remove()
        }
        try await seedSidekiq(redis)
        try certificates.write("token", app.token)
        chmod(certificates.file("token"), 0o600)
        let env = [
            "REDIS_URL": "redis://:bench-secret@127.0.0.1:\(redis.port)/0", "DB_HOST": "127.0.0.1",
            "DB_PORT": String(postgres.port), "DB_USER": "mastodon", "DB_PASS": "mastodon-secret",
            "DB_NAME": "mastodon_production", "DB_SSLMODE": "disable",
        ]
        if serve {
            let text = env.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
            FileHandle.standardOutput.write(Data(text.utf8))
            try await Task.sleep(for: .seconds(3600))
            return
        }
        let root = try TemporaryDirectory("herd-bench-root")
        defer { root.remove() }
        var configuration = AgentConfiguration()
        configuration.hostRoot = root.path
        configuration.commandPath = root.path  // no systemctl here: the pool budget assumes one streaming instance
        configuration.httpWebURL = .url(BaseURL(app.baseURL)!)
        configuration.httpStreamingURLs = .urls([BaseURL(app.baseURL)!])
        configuration.httpPublicURL = .url(BaseURL("https://social.test:\(nginx.ports[0])")!)
        configuration.httpPublicAddress = "127.0.0.1"
        configuration.httpCAFile = tls.ca
        configuration.apiProbeTokenFile = certificates.file("token")
        let context = CheckContext(
            host: .live(configuration), configuration: configuration,
            mastodon: MastodonInstallation(
                liveDirectory: configuration.mastodonLiveDirectory, envFile: configuration.mastodonEnvFile,
                env: DotEnv(values: env), envProblem: nil, version: MastodonVersion(4, 3, 2)),
            memory: CheckMemory(), signatures: SignatureMatcher(table: .builtIn),
            deadline: ContinuousClock.now.advanced(by: .seconds(3600)), now: Date())

        print("| what | per cycle: wall (median) | per cycle: CPU (all threads) | result |")
        print("|---|---|---|---|")
        let checks: [any Check] = [SidekiqCheck(), PostgresCheck(), MastodonHTTPCheck(), APIProbeCheck()]
        for check in checks where only == nil || only == check.id {
            var status = ""
            let (wall, cpu) = try await measure(cycles) {
                status = try await check.run(in: context).status.rawValue
            }
            let how =
                switch check.id {
                case "sidekiq": "connect → AUTH → 2 pipelined round trips → close"
                case "postgresql": "connect → 4 queries → close"
                case "mastodon.http":
                    "5 GETs in parallel (puma, streaming, 3 via nginx TLS) on kept connections + a certificate handshake"
                default: "verify_credentials on a kept connection"
                }
            print("| `\(check.id)` check: \(how) | \(wall) | \(cpu) | \(status) |")
        }
        guard only == nil else { return }

        // Reconnecting every cycle against keeping one connection open.
        let endpoint = try RedisEndpoint.parse(url: env["REDIS_URL"]!)
        let (redisConnectWall, redisConnectCPU) = try await measure(cycles) {
            let connection = try await RedisConnection.connect(to: endpoint)
            _ = try await connection.send(["PING"])
            await connection.close()
        }
        let open = try await RedisConnection.connect(to: endpoint)
        let (redisReuseWall, redisReuseCPU) = try await measure(cycles) { _ = try await open.send(["PING"]) }
        await open.close()
        print("| Redis: connect + AUTH + PING + close | \(redisConnectWall) | \(redisConnectCPU) | |")
        print("| Redis: PING on an open connection | \(redisReuseWall) | \(redisReuseCPU) | |")

        let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let pgConfiguration = PostgresConnection.Configuration(
            host: "127.0.0.1", port: postgres.port, username: "mastodon", password: "mastodon-secret",
            database: "mastodon_production", tls: .disable)
        let (pgConnectWall, pgConnectCPU) = try await measure(cycles) {
            let connection = try await PostgresConnection.connect(configuration: pgConfiguration, id: 1, logger: logger)
            try await connection.query("SELECT 1", logger: logger)
            try await connection.close()
        }
        let pg = try await PostgresConnection.connect(configuration: pgConfiguration, id: 2, logger: logger)
        let (pgReuseWall, pgReuseCPU) = try await measure(cycles) { try await pg.query("SELECT 1", logger: logger) }
        try await pg.close()
        print("| PostgreSQL: connect (SCRAM) + SELECT 1 + close | \(pgConnectWall) | \(pgConnectCPU) | |")
        print("| PostgreSQL: SELECT 1 on an open connection | \(pgReuseWall) | \(pgReuseCPU) | |")
        // HTTPS through nginx: a client (and a TLS handshake) per cycle against one kept alive.
        let publicHealth = "https://social.test:\(nginx.ports[0])/health"
        let (httpNewWall, httpNewCPU) = try await measure(cycles) {
            let fetcher = try HTTPFetcher(
                caFile: tls.ca, dnsOverride: ["social.test": "127.0.0.1"], connectTimeout: .seconds(5))
            _ = try await fetcher.fetch(.GET, publicHealth, timeout: .seconds(5)).get()
            await fetcher.shutdown()
        }
        let kept = try HTTPFetcher(
            caFile: tls.ca, dnsOverride: ["social.test": "127.0.0.1"], connectTimeout: .seconds(5))
        let (httpKeptWall, httpKeptCPU) = try await measure(cycles) {
            _ = try await kept.fetch(.GET, publicHealth, timeout: .seconds(5)).get()
        }
        await kept.shutdown()
        print(
            "| HTTPS via nginx: new client + TLS handshake + GET /health + shutdown | \(httpNewWall) | \(httpNewCPU) | |"
        )
        print("| HTTPS via nginx: GET /health on a kept-alive connection | \(httpKeptWall) | \(httpKeptCPU) | |")
        print("cycles: \(cycles) each; CPU is this process's user+sys (NIO threads included) divided by cycles")
    }

    /// A busy instance: six queues with a backlog, three processes, 2 000 retries, 20 000 dead jobs.
    private func seedSidekiq(_ redis: RedisServer) async throws {
        let now = Date().timeIntervalSince1970
        let queues = ["default", "push", "ingress", "mailers", "pull", "scheduler"]
        for (i, identity) in ["bench:1:a", "bench:2:b", "bench:3:c"].enumerated() {
            let info =
                #"{"hostname":"bench","pid":\#(100 + i),"tag":"mastodon","concurrency":25,"queues":[\#(queues.map { "\"\($0)\"" }.joined(separator: ","))],"version":"7.3.9"}"#
            try await redis.command(["SADD", "processes", identity])
            try await redis.command([
                "HSET", identity, "info", info, "busy", "7", "beat", String(now), "quiet", "false",
            ])
        }
        for queue in queues {
            try await redis.command(["SADD", "queues", queue])
            var push = ["LPUSH", "queue:" + queue]
            for j in 0..<200 {
                push.append(
                    #"{"retry":8,"queue":"\#(queue)","class":"ActivityPub::DeliveryWorker","args":["{}",\#(j)],"jid":"\#(j)","enqueued_at":\#(now - Double(j))}"#
                )
            }
            try await redis.command(push)
        }
        for (set, count) in [("retry", 2_000), ("dead", 20_000)] {
            var add = ["ZADD", set]
            for j in 0..<count { add += [String(now - Double(j)), #"{"jid":"\#(set)\#(j)"}"#] }
            try await redis.command(add)
        }
    }

    private func measure(_ count: Int, _ body: () async throws -> Void) async throws -> (String, String) {
        for _ in 0..<max(1, count / 10) { try await body() }  // warm-up
        var walls: [Double] = []
        let before = Self.cpuSeconds()
        for _ in 0..<count {
            let started = ContinuousClock.now
            try await body()
            let elapsed = started.duration(to: .now)
            walls.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
        }
        let cpu = (Self.cpuSeconds() - before) * 1000 / Double(count)
        walls.sort()
        return (String(format: "%.2f ms", walls[walls.count / 2]), String(format: "%.2f ms", cpu))
    }

    private static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
