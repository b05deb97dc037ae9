import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// The Sidekiq check against a real redis-server holding data laid out exactly as Sidekiq writes it.
@Suite(.serialized) struct SidekiqCheckTests {
    static let allQueues = ["default", "push", "ingress", "mailers", "pull", "scheduler"]

    /// Writes a Sidekiq process the way Sidekiq's heartbeat does: a member of `processes` and a hash.
    static func addProcess(
        _ redis: RedisServer, _ identity: String, beatAgo: Double, queues: [String] = allQueues, busy: Int = 2,
        concurrency: Int = 25, quiet: Bool = false, version: String = "7.3.9", prefix: String = "",
        sidekiq8: Bool = false
    ) async throws {
        let now = Date().timeIntervalSince1970
        let info =
            #"{"hostname":"masto-1","started_at":\#(now - 3600),"pid":4242,"tag":"mastodon","concurrency":\#(concurrency),"queues":[\#(queues.map { "\"\($0)\"" }.joined(separator: ","))],"weights":[{}],"labels":[],"identity":"\#(identity)","version":"\#(version)","embedded":false}"#
        try await redis.command(["SADD", prefix + "processes", identity])
        var fields = [
            "HSET", prefix + identity, "info", info, "busy", String(busy), "beat", String(now - beatAgo), "quiet",
            quiet ? "true" : "false", "rtt_us", "512", "rss", "345000",
        ]
        if sidekiq8 { fields += ["concurrency", String(concurrency)] }
        try await redis.command(fields)
        try await redis.command(["EXPIRE", prefix + identity, "60"])
    }

    /// Pushes a job as Sidekiq's client does (LPUSH; the oldest is at the right).
    static func enqueue(
        _ redis: RedisServer, _ queue: String, enqueuedAgo: Double, sidekiq8: Bool = false, prefix: String = ""
    )
        async throws
    {
        let at = Date().timeIntervalSince1970 - enqueuedAgo
        let stamp = sidekiq8 ? String(Int64(at * 1000)) : String(at)
        let job =
            #"{"retry":8,"queue":"\#(queue)","class":"ActivityPub::DeliveryWorker","args":["{}",1,"https://remote.example/inbox"],"jid":"\#(UUID().uuidString.prefix(24))","created_at":\#(stamp),"enqueued_at":\#(stamp)}"#
        try await redis.command(["SADD", prefix + "queues", queue])
        try await redis.command(["LPUSH", prefix + "queue:" + queue, job])
    }

    /// A busy thread as Sidekiq's heartbeat writes it: an entry in `IDENTITY:work` whose payload is the
    /// job's JSON as a string and `run_at` integer epoch seconds (6.5 to 8).
    static func addWork(
        _ redis: RedisServer, _ identity: String, thread: String, runAgo: Double, worker: String,
        queue: String = "default", prefix: String = ""
    ) async throws {
        let job = #"{"retry":8,"queue":"\#(queue)","class":"\#(worker)","args":[1],"jid":"\#(thread)0a1b2c"}"#
        let entry = try JSONSerialization.data(withJSONObject: [
            "queue": queue, "payload": job, "run_at": Int(Date().timeIntervalSince1970 - runAgo),
        ])
        try await redis.command(["HSET", prefix + identity + ":work", thread, String(decoding: entry, as: UTF8.self)])
        try await redis.command(["EXPIRE", prefix + identity + ":work", "60"])
    }

    static func run(
        _ env: [String: String], memory: CheckMemory = CheckMemory(),
        version: MastodonVersion? = MastodonVersion(4, 3, 2),
        links: [String: String] = [:]
    ) async throws -> CheckOutcome {
        try await runServiceCheck(SidekiqCheck(), env: env, memory: memory, version: version, links: links)
    }

    static func env(_ redis: RedisServer) -> [String: String] {
        ["REDIS_HOST": "127.0.0.1", "REDIS_PORT": String(redis.port)]
    }

    @Test func aHealthyFleetOfProcessesIsOK() async throws {
        let redis = try await RedisServer.start()
        defer { redis.stop() }
        try await Self.addProcess(redis, "masto-1:4242:0a1b2c3d", beatAgo: 3)
        try await Self.addProcess(
            redis, "masto-1:4243:1b2c3d4e", beatAgo: 8, queues: ["default", "push", "ingress", "pull"])
        try await Self.enqueue(redis, "default", enqueuedAgo: 2)
        let pushed = Date()
        try await Self.enqueue(redis, "push", enqueuedAgo: 5)
        try await redis.command(["ZADD", "dead", "1745291500.5", #"{"jid":"x"}"#])
        let outcome = try await Self.run(Self.env(redis))
        // The job has waited 5 s plus however long this loaded machine took to run the check.
        let waited = 5 + Date().timeIntervalSince(pushed)
        #expect(outcome.status == .ok, "\(outcome.summary)")
        #expect(outcome.metrics["processes.live"] == 2)
        #expect(outcome.metrics["threads.total"] == 50)
        #expect(outcome.metrics["queue.push.size"] == 1)
        #expect(outcome.metrics["dead"] == 1)
        #expect((4...(waited + 1)).contains(outcome.metrics["queue.push.latency_s"] ?? -1))
    }

    @Test func deadAndStuckProcessesAndUnservedQueuesAreCritical() async throws {
        let redis = try await RedisServer.start()
        defer { redis.stop() }
        // One process serves everything but scheduler and beats; the scheduler one stopped beating.
        try await Self.addProcess(
            redis, "masto-1:1:aaaa", beatAgo: 4, queues: ["default", "push", "ingress", "mailers", "pull"])
        try await Self.addProcess(redis, "masto-1:2:bbbb", beatAgo: 400, queues: ["scheduler"])
        let outcome = try await Self.run(Self.env(redis))
        #expect(outcome.status == .critical)
        #expect(outcome.summary.contains("no live process serves scheduler"), "\(outcome.summary)")
        #expect(outcome.metrics["processes.stale"] == 1)
        #expect(Set(outcome.findings.map(\.signature)) == ["stale Sidekiq heartbeat", "Sidekiq queue not served"])

        let none = try await RedisServer.start()
        defer { none.stop() }
        let empty = try await Self.run(Self.env(none))
        #expect(empty.status == .critical)
        #expect(empty.findings.map(\.signature) == ["no live Sidekiq process"])
    }

    @Test func latencyReadsFloatSecondsAndSidekiq8Milliseconds() async throws {
        for sidekiq8 in [false, true] {
            let redis = try await RedisServer.start()
            defer { redis.stop() }
            try await Self.addProcess(
                redis, "m:1:x", beatAgo: 1, version: sidekiq8 ? "8.0.4" : "7.3.9", sidekiq8: sidekiq8)
            let pushed = Date()
            try await Self.enqueue(redis, "ingress", enqueuedAgo: 900, sidekiq8: sidekiq8)  // oldest at the right
            try await Self.enqueue(redis, "ingress", enqueuedAgo: 10, sidekiq8: sidekiq8)
            try await Self.enqueue(redis, "default", enqueuedAgo: 90, sidekiq8: sidekiq8)
            let outcome = try await Self.run(Self.env(redis))
            #expect(outcome.status == .critical, "sidekiq8 \(sidekiq8): \(outcome.summary)")
            let late = Date().timeIntervalSince(pushed) + 1  // this loaded machine's time to run the check
            #expect((899...(900 + late)).contains(outcome.metrics["queue.ingress.latency_s"] ?? -1))
            #expect((89...(90 + late)).contains(outcome.metrics["queue.default.latency_s"] ?? -1))
            #expect(outcome.summary.contains("queue ingress 9"))
        }
    }

    @Test func aJobHoldingItsThreadForHoursWarnsWithItsClass() async throws {
        let redis = try await RedisServer.start()
        defer { redis.stop() }
        try await Self.addProcess(redis, "masto-1:7:cafe", beatAgo: 2, busy: 3, prefix: "mastodon:")
        try await Self.addWork(
            redis, "masto-1:7:cafe", thread: "t1", runAgo: 2, worker: "PushUpdateWorker", prefix: "mastodon:")
        try await Self.addWork(
            redis, "masto-1:7:cafe", thread: "t2", runAgo: 3 * 86_400 + 600, worker: "LinkCrawlWorker", queue: "pull",
            prefix: "mastodon:")
        // A torn entry and binary garbage are skipped, not fatal.
        try await redis.command(["HSET", "mastodon:masto-1:7:cafe:work", "t3", #"{"queue":"default","run_at":"#])
        try await redis.command(["HSET", "mastodon:masto-1:7:cafe:work", "t4", "\u{1}\u{FF}binary"])
        var env = Self.env(redis)
        env["REDIS_NAMESPACE"] = "mastodon"
        let outcome = try await Self.run(env)
        #expect(outcome.status == .warning, "\(outcome.summary)")
        #expect(
            outcome.summary.contains("LinkCrawlWorker has run 3 d 0 h on masto-1 (queue pull)"), "\(outcome.summary)")
        #expect(outcome.findings.map(\.signature) == ["Sidekiq job running for hours"])
        let oldest = try #require(outcome.metrics["busy.oldest_s"])
        #expect(abs(oldest - 259_800) < 30, "\(oldest)")

        // The same threads busy for seconds are ordinary work.
        try await redis.command(["DEL", "mastodon:masto-1:7:cafe:work"])
        try await Self.addWork(
            redis, "masto-1:7:cafe", thread: "t1", runAgo: 4, worker: "LinkCrawlWorker", prefix: "mastodon:")
        let quick = try await Self.run(env)
        #expect(quick.status == .ok, "\(quick.summary)")
        #expect((3...10).contains(quick.metrics["busy.oldest_s"] ?? -1))
    }

    @Test func aWorkHashPastTheReplyLimitLeavesTheRestOfTheCheck() async throws {
        let redis = try await RedisServer.start()
        defer { redis.stop() }
        try await Self.addProcess(redis, "m:1:x", beatAgo: 1, busy: 1)
        // 9 MiB of busy jobs (each under the 1 MiB bulk limit): past the 8 MiB a reply may take.
        let job = String(repeating: "x", count: 100_000)
        for batch in 0..<10 {
            try await redis.command(["HSET", "m:1:x:work"] + (0..<10).flatMap { ["t\(batch)-\($0)", job] })
        }
        let outcome = try await Self.run(Self.env(redis))
        #expect(outcome.status == .ok, "\(outcome.summary)")
        #expect(outcome.summary.contains("busy jobs not read"), "\(outcome.summary)")
        #expect(outcome.metrics["processes.live"] == 1)
    }

    @Test func retryAndDeadGrowthAcrossCyclesWarns() async throws {
        let redis = try await RedisServer.start()
        defer { redis.stop() }
        try await Self.addProcess(redis, "m:1:x", beatAgo: 1)
        for i in 0..<5 { try await redis.command(["ZADD", "retry", String(1_745_291_000 + i), #"{"jid":"r\#(i)"}"#]) }
        let first = try await Self.run(Self.env(redis))
        #expect(first.status == .ok, "\(first.summary)")
        #expect(first.metrics["retry.growth"] == nil)
        var pipeline: [String] = ["ZADD", "retry"]
        for i in 5..<200 { pipeline += [String(1_745_291_000 + i), #"{"jid":"r\#(i)"}"#] }
        try await redis.command(pipeline)
        let second = try await Self.run(Self.env(redis), memory: first.memory ?? CheckMemory())
        #expect(second.status == .warning)
        #expect(second.metrics["retry.growth"] == 195)
        #expect(second.findings.map(\.signature) == ["Sidekiq retry set growing"])
    }

    @Test func namespacedKeysPasswordsAndUnixSocketsAsMastodonConfiguresThem() async throws {
        let redis = try await RedisServer.start(password: "pw")
        defer { redis.stop() }
        try await Self.addProcess(redis, "m:1:x", beatAgo: 1, prefix: "masto:")
        try await Self.enqueue(redis, "mailers", enqueuedAgo: 1, prefix: "masto:")
        // Mastodon 4.3 with REDIS_NAMESPACE, through REDIS_URL with a password, over the unix socket
        // (a host path, so it is found under the host root like every other path).
        let socket = ["/var/run/redis/redis-server.sock": redis.socketPath]
        let env = ["REDIS_URL": "unix://:pw@/var/run/redis/redis-server.sock", "REDIS_NAMESPACE": "masto"]
        let outcome = try await Self.run(env, links: socket)
        #expect(outcome.status == .ok, "\(outcome.summary)")
        #expect(outcome.metrics["queue.mailers.size"] == 1)
        // Mastodon 4.4 serves fasp too: the same process now leaves a queue unserved.
        let newer = try await Self.run(env, version: MastodonVersion(4, 4, 0), links: socket)
        #expect(newer.status == .critical)
        #expect(newer.summary.contains("fasp"))
    }

    @Test func unreachableRedisIsCriticalWithItsCategory() async throws {
        let port = try FreePort.next()
        let refused = try await Self.run(["REDIS_URL": "redis://127.0.0.1:\(port)/0"])
        #expect(refused.status == .critical)
        #expect(refused.findings.map(\.category) == [.redisDown])
        #expect(refused.findings.map(\.signature) == ["Redis connection refused"])

        let redis = try await RedisServer.start(password: "right")
        defer { redis.stop() }
        let denied = try await Self.run(["REDIS_URL": "redis://:wrong@127.0.0.1:\(redis.port)/0"])
        #expect(denied.findings.map(\.signature) == ["Redis authentication failed"])
        #expect(!denied.summary.contains("wrong"))

        let missing = try await Self.run(["REDIS_URL": "unix:///var/run/redis/redis-server.sock"])
        #expect(missing.findings.map(\.signature) == ["Redis socket missing"])

        let unconfigured = try await Self.run(["REDIS_URL": "http://nope"])
        #expect(unconfigured.status == .unknown)
    }
}
