import FoundationEssentials
import HerdProtocol

/// Playbook step 2, "check Sidekiq and its queues": over Redis, with Sidekiq's own keys — queue sizes
/// and latency (the oldest job's age), retry/schedule/dead sizes and their growth since the last cycle,
/// live processes and their heartbeats, busy threads against concurrency, and whether every Mastodon
/// queue is served by a live process (`scheduler` by exactly one). Redis is found the way Mastodon finds
/// it (`SIDEKIQ_REDIS_*`, then `REDIS_*`, then `REDIS_URL`; `REDIS_NAMESPACE` up to 4.3).
public struct SidekiqCheck: Check {
    public let id = "sidekiq"
    public let title = "Sidekiq in Redis: queue latency, retry/dead growth, live processes, queues served"
    public let playbookStep = "2 · check Sidekiq and its queues"

    /// A heartbeat older than this means the process is dead or wedged (Sidekiq beats every 10 s).
    static let staleBeat: Double = 60
    static let mastodonQueues = ["default", "push", "ingress", "mailers", "pull", "scheduler"]

    public init() {}

    public func run(in context: CheckContext) async throws -> CheckOutcome {
        guard let env = context.mastodon.env else {
            return .unknown("cannot read \(context.mastodon.envProblem ?? context.mastodon.envFile)")
        }
        var endpoint: RedisEndpoint
        do {
            endpoint = try RedisEndpoint.sidekiq(from: env.values)
        } catch {
            return .unknown(error.description)
        }
        if case .unix(let path) = endpoint.address { endpoint.address = .unix(path: context.filesystem.resolve(path)) }
        let timeout = min(context.configuration.serviceTimeout, context.remaining)
        let snapshot: SidekiqSnapshot
        do throws(RedisError) {
            let redis = try await RedisConnection.connect(to: endpoint, timeout: timeout)
            do throws(RedisError) {
                snapshot = try await SidekiqSnapshot.read(from: redis)
                await redis.close()
            } catch {
                await redis.close()
                throw error
            }
        } catch {
            return Self.unreachable(error)
        }
        return Self.evaluate(
            snapshot, now: context.now.timeIntervalSince1970, version: context.mastodon.version,
            configuration: context.configuration, memory: context.memory)
    }

    static func unreachable(_ error: RedisError) -> CheckOutcome {
        let signature =
            switch error.kind {
            case .refused: "Redis connection refused"
            case .socketMissing: "Redis socket missing"
            case .permissionDenied: "Redis socket permission denied"
            case .timeout: "Redis timed out"
            case .dns: "Redis host name does not resolve"
            case .authFailed: "Redis authentication failed"
            case .tls: "Redis TLS failure"
            case .configuration: "Redis not configured"
            case .protocolError: "Redis protocol error"
            case .server, .connection: "Redis connection failed"
            }
        guard error.kind != .configuration else { return .unknown(error.description) }
        return CheckOutcome(
            .critical, "Sidekiq's Redis: \(error.description)",
            findings: [Finding(category: .redisDown, signature: signature, count: 1, sample: error.description)])
    }

    static func evaluate(
        _ snapshot: SidekiqSnapshot, now: Double, version: MastodonVersion?, configuration: AgentConfiguration,
        memory previous: CheckMemory
    ) -> CheckOutcome {
        var status = CheckStatus.ok
        var problems: [String] = []
        var findings: [Finding] = []
        var metrics: [String: Double] = [
            "retry": Double(snapshot.retry), "schedule": Double(snapshot.schedule), "dead": Double(snapshot.dead),
            "redis.rtt_ms": snapshot.roundTripMilliseconds,
        ]
        func raise(_ level: CheckStatus, _ text: String, _ signature: String? = nil, count: Int = 1) {
            if level > status { status = level }
            problems.append(text)
            if let signature {
                findings.append(
                    Finding(
                        category: .sidekiqBacklogOrRetry, signature: signature, count: UInt64(max(1, count)),
                        sample: text))
            }
        }

        // Processes: live ones beat within the last minute; quiet ones take no new jobs.
        let live = snapshot.processes.filter { ($0.beat.map { now - $0 < staleBeat }) ?? false }
        let stale = snapshot.processes.filter { !(($0.beat.map { now - $0 < staleBeat }) ?? false) }
        let serving = live.filter { !$0.quiet }
        let busy = live.reduce(0) { $0 + $1.busy }
        let threads = live.reduce(0) { $0 + $1.concurrency }
        metrics["processes.live"] = Double(live.count)
        metrics["processes.stale"] = Double(stale.count)
        metrics["threads.busy"] = Double(busy)
        metrics["threads.total"] = Double(threads)
        if serving.isEmpty {
            raise(
                .critical,
                live.isEmpty ? "no live Sidekiq process" : "every live Sidekiq process is quiet (stopping)",
                "no live Sidekiq process")
        } else if threads > 0, busy >= threads {
            raise(.warning, "all \(threads) Sidekiq threads busy", "Sidekiq threads saturated")
        }
        // A job running for hours holds its thread: jobs stuck for days are a known Mastodon failure
        // (a remote server that never answers, a lock that is never released).
        let oldest = live.compactMap { process in process.oldestJob.map { (process, $0) } }
            .min { $0.1.runAt < $1.1.runAt }
        if let (process, job) = oldest {
            let age = max(0, now - job.runAt)
            metrics["busy.oldest_s"] = age.rounded()
            if age >= configuration.sidekiqBusyJobWarning.seconds {
                let running = live.flatMap { [$0.oldestJob].compactMap { $0 } }.filter {
                    now - $0.runAt >= configuration.sidekiqBusyJobWarning.seconds
                }
                raise(
                    .warning,
                    "\(job.className ?? "a job") has run \(Self.spoken(age)) on \(process.hostname ?? process.identity)"
                        + (job.queue.map { " (queue \($0))" } ?? ""),
                    "Sidekiq job running for hours", count: running.count)
            }
        }
        if let unread = snapshot.busyJobsUnread { problems.append("busy jobs not read: \(unread)") }
        if !stale.isEmpty {
            let ages = stale.map { $0.beat.map { "\(Int(now - $0)) s" } ?? "expired" }
            raise(
                .warning,
                "\(stale.count) Sidekiq process(es) without a heartbeat (\(ages.prefix(3).joined(separator: ", ")))",
                "stale Sidekiq heartbeat", count: stale.count)
        }

        // Mastodon's queues must each be served; scheduler by exactly one process.
        var expected = mastodonQueues
        if let version, version >= MastodonVersion(4, 4) { expected.append("fasp") }
        let served = Set(serving.flatMap(\.queues))
        let unserved = expected.filter { !served.contains($0) }
        if !serving.isEmpty, !unserved.isEmpty {
            raise(.critical, "no live process serves \(unserved.joined(separator: ", "))", "Sidekiq queue not served")
        }
        let schedulers = serving.filter { $0.queues.contains("scheduler") }.count
        if schedulers > 1 {
            raise(
                .warning, "\(schedulers) processes serve scheduler (exactly one should)", "several scheduler processes")
        }

        // Queues: size and latency.
        var worst: (name: String, latency: Double)?
        for queue in snapshot.queues {
            let latency = queue.oldestEnqueuedAt.map { max(0, now - $0) } ?? 0
            if Rule.isIdentifier(queue.name), metrics.count < Limits.maxMetricsPerResult - 8 {
                metrics["queue.\(queue.name).size"] = Double(queue.size)
                metrics["queue.\(queue.name).latency_s"] = latency.rounded()
            }
            if latency > (worst?.latency ?? -1) { worst = (queue.name, latency) }
            if queue.size > 0, !served.contains(queue.name), !expected.contains(queue.name), !serving.isEmpty {
                raise(.warning, "\(queue.size) job(s) in \(queue.name), which no live process serves")
            }
        }
        let latency = worst?.latency ?? 0
        metrics["latency_s"] = latency.rounded()
        let warning = configuration.sidekiqLatencyWarning.seconds
        let critical = configuration.sidekiqLatencyCritical.seconds
        if let worst, latency >= warning {
            raise(
                latency >= critical ? .critical : .warning,
                "queue \(worst.name) \(Int(latency)) s behind", "Sidekiq queue latency")
        }

        // Retry and dead sets: their growth matters, not their size (remote servers vanish).
        var memory = CheckMemory(numbers: ["retry": Double(snapshot.retry), "dead": Double(snapshot.dead)])
        memory.numbers["at"] = now
        if let retry = previous.numbers["retry"], let dead = previous.numbers["dead"] {
            let retryGrowth = Double(snapshot.retry) - retry
            let deadGrowth = Double(snapshot.dead) - dead
            metrics["retry.growth"] = retryGrowth
            metrics["dead.growth"] = deadGrowth
            if retryGrowth >= Double(configuration.sidekiqRetryGrowthWarning) {
                raise(
                    .warning, "retry set grew by \(Int(retryGrowth))", "Sidekiq retry set growing",
                    count: Int(retryGrowth))
            }
            if deadGrowth >= Double(configuration.sidekiqDeadGrowthWarning) {
                raise(
                    .warning, "dead set grew by \(Int(deadGrowth))", "Sidekiq dead set growing", count: Int(deadGrowth))
            }
        }
        if snapshot.truncated { problems.append("more queues or processes than one cycle reads") }

        let queued = snapshot.queues.reduce(0) { $0 + $1.size }
        var summary =
            "\(live.count) live process(es), \(busy)/\(threads) busy, \(queued) queued"
            + (worst.map { ", max latency \(Int($0.latency)) s (\($0.name))" } ?? "")
            + ", retry \(snapshot.retry), dead \(snapshot.dead)"
        if !problems.isEmpty { summary = problems.joined(separator: "; ") + " — " + summary }
        return CheckOutcome(status, summary, metrics: metrics, findings: findings, memory: memory)
    }
}

extension SidekiqCheck {
    /// "3 d 4 h", "2 h 5 min", "7 min".
    static func spoken(_ seconds: Double) -> String {
        let minutes = Int(seconds / 60)
        let (days, hours) = (minutes / 1440, minutes / 60 % 24)
        if days > 0 { return "\(days) d \(hours) h" }
        if hours > 0 { return "\(hours) h \(minutes % 60) min" }
        return "\(minutes) min"
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
