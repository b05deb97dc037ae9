import HerdProtocol

/// The causal model of a Mastodon host: the posting-error playbook as causes, most specific first. A
/// missing dependency (Redis, the database) explains the 5xx and the Sidekiq failures it causes, so it
/// comes before them; a check a cause explains is its symptom and joins its incident
/// (`IncidentBook.apply`). Controller/README.md's causal model table is this list
/// (`CausalModelTests` holds them together).
enum DiagnosisRules {
    static let web: Set<String> = [
        "logs", "mastodon.http", "mastodon.api_probe", "nginx.error_log", "nginx.access_log",
    ]

    /// The streaming server: its units and its upstream in nginx's error lines.
    static func isStreaming(_ finding: Finding) -> Bool {
        let text = finding.signature + " " + (finding.sample ?? "")
        return text.contains("streaming") || text.contains(":4000")
    }

    /// The agent's finding for a Sidekiq job that has held its thread past `sidekiq.busy_job_warning`.
    static let heldJob = "Sidekiq job running for hours"

    /// Causes that only say what fails, not why: an incident they explain takes the specific cause a
    /// later report finds for its check (`IncidentBook.place`) instead of standing beside it.
    static let catchAll: Set<String> = ["server_errors", "unrecognised_error"]

    /// Every cause, in the order they are tried.
    static let all: [DiagnosisRule] = dependencies + application

    /// The services Mastodon needs and its own processes.
    static let dependencies: [DiagnosisRule] = [
        DiagnosisRule(
            id: "redis_down", explains: web.union(["sidekiq", "services"]),
            needs: "`redis_down` findings (Redis::CannotConnectError, MISCONF, …) on any check",
            match: { e in e.findings(.redisDown).nilIfEmpty.map { $0 + e.summary("sidekiq") } },
            cause: { _ in "Redis is down or unreachable: Sidekiq and the web's caches and streaming fail with it" },
            nextStep:
                "Start redis-server and look at why it stopped (its log, memory, disk: MISCONF means it cannot save); web and Sidekiq reconnect by themselves",
            action: nil),
        DiagnosisRule(
            id: "db_connections_exhausted", explains: web.union(["postgresql", "sidekiq"]),
            needs: "the server refuses connections (too many clients, reserved slots) or ≥ 90 % of them are in use",
            match: { e in
                var lines = e.findings(.dbConnectionLimit)
                if let used = e.metric("postgresql", "connections.used_percent"), used >= 90 {
                    lines += e.summary("postgresql")
                }
                return lines.nilIfEmpty
            },
            cause: { e in
                let used = e.metric("postgresql", "connections.used_percent").map { " (\(Int($0)) % in use)" }
                if let budget = e.metric("postgresql", "pool_budget"),
                    let available = e.metric("postgresql", "connections.available"), budget <= available
                {
                    return
                        "PostgreSQL is out of connections\(used ?? "") though Mastodon's pools may open only \(Int(budget)) of \(Int(available)): something else holds them"
                }
                return
                    "PostgreSQL is out of connections\(used ?? ""): Mastodon's pools together ask for more than it allows"
            },
            nextStep: { e in
                let budget = e.metric("postgresql", "pool_budget")
                let available = e.metric("postgresql", "connections.available")
                if let budget, let available, budget <= available {
                    return
                        "Find who holds the connections (SELECT usename, application_name, state, now() - xact_start FROM pg_stat_activity): long transactions, another application, a leak. Raising max_connections would only feed it"
                }
                let numbers = [
                    budget.map { "Mastodon's pools may open \(Int($0))" },
                    available.map { "the server allows \(Int($0))" },
                ].compactMap { $0 }.joined(separator: " and ")
                return (numbers.isEmpty ? "" : numbers + ": ")
                    + "raise max_connections (and shared memory with it), or lower WEB_CONCURRENCY × MAX_THREADS and Sidekiq's concurrency so that they fit; a restart only hides it for a while"
            },
            action: nil),
        DiagnosisRule(
            id: "rails_pool_exhausted", explains: web.union(["postgresql", "sidekiq"]),
            needs:
                "ActiveRecord::ConnectionTimeoutError (Rails' own pool) while the server still has connections to give",
            match: { e in
                e.findings(.dbPoolExhausted).nilIfEmpty
            },
            cause: { e in
                let used = e.metric("postgresql", "connections.used_percent").map {
                    " while PostgreSQL has room (\(Int($0)) % of connections in use)"
                }
                return "Rails' own connection pool runs dry (ActiveRecord::ConnectionTimeoutError)\(used ?? "")"
            },
            nextStep: { e in
                let pool = e.metric("postgresql", "pool.db_pool").map(Int.init)
                let threads = e.metric("postgresql", "pool.web_threads").map(Int.init)
                let sidekiq = e.metric("postgresql", "pool.sidekiq_threads").map(Int.init)
                if let pool, let threads, pool < threads {
                    return
                        "DB_POOL=\(pool) is below MAX_THREADS=\(threads): each puma worker has more threads than connections. Set DB_POOL ≥ \(threads) in .env.production (or remove it), then restart web to load it; restarting alone changes nothing"
                }
                if let pool, let sidekiq, pool < sidekiq {
                    return
                        "DB_POOL=\(pool) is below Sidekiq's concurrency \(sidekiq): set DB_POOL ≥ \(sidekiq) for the Sidekiq unit (or remove it), then restart Sidekiq to load it; restarting alone changes nothing"
                }
                return
                    "The pool matches the threads, so connections are held too long: slow queries or transactions left open (herdctl show: oldest_transaction_s, idle in transaction). Find them before raising DB_POOL"
            },
            action: nil),
        DiagnosisRule(
            id: "db_unreachable", explains: web.union(["postgresql", "sidekiq"]),
            needs: "`db_connection` findings (PG::ConnectionBad, connection refused, authentication failed, …)",
            match: { e in e.findings(.dbConnection).nilIfEmpty },
            cause: { _ in "PostgreSQL is unreachable" },
            nextStep:
                "Check that PostgreSQL runs (systemctl status postgresql) and that DB_HOST/DB_PORT in .env.production point at it; web and Sidekiq reconnect by themselves",
            action: nil),
        DiagnosisRule(
            id: "db_schema", explains: web.union(["sidekiq"]),
            needs: "`db_schema` findings: an undefined table or column, pending or failed migrations",
            match: { e in e.findings(.dbSchema).nilIfEmpty },
            cause: { _ in "The database's schema does not match Mastodon's code: migrations have not run (or failed)" },
            nextStep:
                "As the mastodon user in the live directory: RAILS_ENV=production bundle exec rails db:migrate (the upgrade's release notes say whether post-deployment migrations wait), then restart web and Sidekiq",
            action: nil),
        DiagnosisRule(
            id: "disk_full", explains: web.union(["disk", "postgresql", "media", "sidekiq"]),
            needs: "the disk check in trouble, or `disk_full` findings (No space left on device)",
            match: { e in
                let lines = e.findings(.diskFull)
                return e.troubled("disk") ? lines + e.summary("disk") : lines.nilIfEmpty
            },
            cause: { e in
                guard let disk = e.results["disk"] else { return "A disk is full" }
                let fullest = disk.metrics.filter { $0.key.hasSuffix(".used_ratio") }.max { $0.value < $1.value }
                guard let fullest else { return "A disk is full" }
                let name = String(fullest.key.dropLast(".used_ratio".count))
                let hours = disk.metrics["\(name).hours_to_full"].map { ", full in \(Int($0)) h at the current rate" }
                return "The \(name) volume\(e.host(of: "disk")) is \(Int(fullest.value * 100)) % full\(hours ?? "")"
            },
            nextStep:
                "Free space: tootctl media remove (cached remote media), then tootctl preview_cards remove; then restart web so it can write again",
            action: SuggestedAction(action: "media-remove", parameters: ["days": "7"])),
        DiagnosisRule(
            id: "oom_kill", explains: web.union(["oom", "services", "resources", "sidekiq"]),
            needs: "`oom_kill` findings: the kernel killed a process",
            match: { e in e.findings(.oomKill).nilIfEmpty.map { $0 + e.summary("resources") } },
            cause: { e in
                let victims = e.parts.flatMap(\.findings).filter { $0.category == .oomKill }.map(\.signature)
                return "The kernel's OOM killer is at work: \(Set(victims).sorted().joined(separator: ", "))"
            },
            nextStep:
                "Lower memory use before restarting: fewer puma workers (WEB_CONCURRENCY) or Sidekiq threads, MALLOC_ARENA_MAX=2, jemalloc; or add memory or swap",
            action: nil),
        DiagnosisRule(
            id: "crash_loop", explains: web.union(["services", "sidekiq"]),
            needs: "a unit restarted by systemd twice or more since the last cycle, or again and again (flapping)",
            match: { e in
                let again = !e.patterns.isDisjoint(with: [.flapping, .recurring])
                let restarting = e.metrics("services", endingWith: ".restarts_delta").filter {
                    $0.value >= 2 || ($0.value > 0 && again)
                }
                return restarting.isEmpty ? nil : e.summary("services")
            },
            cause: { e in
                let units = e.metrics("services", endingWith: ".restarts_delta").filter { $0.value > 0 }
                    .map { "\($0.name) (\(Int($0.value))×)" }
                return
                    "A unit dies soon after it starts and systemd restarts it again: \(units.joined(separator: ", "))"
            },
            nextStep: { e in
                let unit = e.metrics("services", endingWith: ".restarts_delta").first { $0.value > 0 }?.name ?? "UNIT"
                return
                    "journalctl -u \(unit) -b for the error at boot (a bad .env.production, a migration not run, a missing dependency); restarting it again will not help"
            },
            action: nil),
        DiagnosisRule(
            id: "sidekiq_down", explains: ["sidekiq", "services"],
            needs: "no live Sidekiq process, or its unit inactive",
            match: { e in
                let noProcess = e.metric("sidekiq", "processes.live") == 0
                let unitDown = e.metric("services", "mastodon-sidekiq.active") == 0
                guard noProcess || unitDown else { return nil }
                return e.summary("sidekiq") + (unitDown ? e.summary("services") : [])
            },
            cause: { _ in "Sidekiq is not running: no process sends heartbeats and its queues grow" },
            nextStep: "Restart Sidekiq, then watch its queues drain (herdctl show)",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"])),
        DiagnosisRule(
            id: "sidekiq_stuck", explains: ["sidekiq"],
            needs:
                "stale Sidekiq heartbeats, a job holding its thread for hours, or every thread busy while the check fails",
            match: { e in
                let stale = (e.metric("sidekiq", "processes.stale") ?? 0) > 0
                let busy = e.metric("sidekiq", "threads.busy") ?? 0
                let total = e.metric("sidekiq", "threads.total") ?? 0
                let saturated = total > 0 && busy >= total && e.status("sidekiq") != .ok
                let held = !e.found(.sidekiqBacklogOrRetry, where: { $0.signature == Self.heldJob }).isEmpty
                return stale || saturated || held ? e.summary("sidekiq") : nil
            },
            cause: { e in
                let held = e.found(.sidekiqBacklogOrRetry, where: { $0.signature == Self.heldJob }).first?.finding
                return held.map { "Sidekiq is stuck: \($0.sample ?? "a job has held its thread for hours")" }
                    ?? "Sidekiq is stuck: stale heartbeats or every thread busy while the queues grow"
            },
            nextStep:
                "Restart Sidekiq; if it sticks again, look for a job class that hangs (the logs' Sidekiq failures)",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"])),
        DiagnosisRule(
            id: "sidekiq_backlog", explains: ["sidekiq"],
            needs: "a queue behind (latency) while Sidekiq's processes live and have idle threads",
            match: { e in
                guard (e.metric("sidekiq", "processes.live") ?? 0) > 0, (e.metric("sidekiq", "latency_s") ?? 0) > 0,
                    !e.findings(.sidekiqBacklogOrRetry, where: { $0.signature == "Sidekiq queue latency" }).isEmpty
                else { return nil }
                return e.summary("sidekiq")
            },
            cause: { e in
                let worst = e.metrics("sidekiq", endingWith: ".latency_s").max { $0.value < $1.value }
                let queue = worst.map {
                    " (\($0.name.replacingOccurrences(of: "queue.", with: "")) \(Int($0.value)) s behind)"
                }
                return "Sidekiq runs but falls behind its queues\(queue ?? ""): more work arrives than it finishes"
            },
            nextStep:
                "Find what fills the queue (herdctl show: queue sizes) and what makes its jobs slow (the database, remote servers); give that queue a process of its own (sidekiq -q QUEUE) if the host has room. A restart loses nothing and helps nothing",
            action: nil),
        DiagnosisRule(
            id: "sidekiq_failing", explains: ["sidekiq", "logs"],
            needs: "the retry or dead set growing between cycles",
            match: { e in
                e.findings(.sidekiqBacklogOrRetry) {
                    $0.signature.hasPrefix("Sidekiq retry") || $0.signature.hasPrefix("Sidekiq dead")
                }
                .nilIfEmpty
            },
            cause: { e in
                let retry = e.metric("sidekiq", "retry.growth").map { "retry set +\(Int($0))" }
                let dead = e.metric("sidekiq", "dead.growth").map { "dead set +\(Int($0))" }
                return "Sidekiq jobs fail and are retried: "
                    + [retry, dead].compactMap { $0 }.joined(separator: ", ") + " since the last cycle"
            },
            nextStep:
                "The logs' Sidekiq failures name the job class and the error: a code error retried is Mastodon's (an upgrade or an issue to report), a remote server failing is the other server's and needs nothing",
            action: nil),
        DiagnosisRule(
            id: "streaming_down", explains: web.union(["services"]),
            needs: "a streaming unit inactive, or nginx failing to reach the streaming upstream",
            match: { e in
                let down = e.metrics("services", endingWith: ".active").filter {
                    $0.name.hasPrefix("mastodon-streaming") && $0.value == 0
                }
                let lines = e.findings(.upstreamUnreachable, where: isStreaming)
                guard !down.isEmpty || !lines.isEmpty else { return nil }
                return lines + (down.isEmpty ? [] : e.summary("services"))
            },
            cause: { _ in
                "Mastodon's streaming server is down: timelines stop updating live, nginx answers 502 on /api/v1/streaming"
            },
            nextStep: "Restart streaming; if it does not stay up, read mastodon-streaming's journal",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "streaming"])),
        DiagnosisRule(
            id: "web_intermittent", explains: web.union(["services"]),
            needs:
                "nginx's 502s while mastodon-web stays active and puma still answers: API requests answered 2xx in the same cycle, its health check now, or again between failures",
            match: { e in
                guard e.metric("services", "mastodon-web.active") != 0 else { return nil }
                let lines = e.findings(.upstreamUnreachable) { !isStreaming($0) }
                guard !lines.isEmpty else { return nil }
                let answered = (e.metric("nginx.access_log", "api.status_2xx") ?? 0) > 0
                let answersNow = e.metric("mastodon.http", "web.direct.status").map { $0 < 500 }
                let answersAtTimes = e.recoveredBetweenFailures("mastodon.http")
                let noProbe = answersNow == nil && answersAtTimes == nil
                guard
                    answered || answersNow == true || answersAtTimes == true
                        || (noProbe && !e.patterns.contains(.persistent))
                else { return nil }
                return lines + e.summary("nginx.access_log") + e.summary("mastodon.http")
            },
            cause: { _ in
                "puma drops connections now and then: nginx answers 502 intermittently while mastodon-web stays up"
            },
            nextStep:
                "Look at mastodon-web's journal around the 502s for worker restarts (worker timeout, memory) or a full backlog, and at nginx's upstream keepalive; restarting web does not cure an intermittent fault",
            action: nil),
        DiagnosisRule(
            id: "web_down", explains: web.union(["services"]),
            needs: "mastodon-web inactive, or nginx's 502s while puma does not answer",
            match: { e in
                let unitDown = e.metric("services", "mastodon-web.active") == 0
                let lines = e.findings(.upstreamUnreachable) { !isStreaming($0) }
                guard unitDown || !lines.isEmpty else { return nil }
                return lines + e.summary("mastodon.http") + (unitDown ? e.summary("services") : [])
            },
            cause: { _ in "Mastodon's web process (puma) is down behind nginx: nginx answers 502" },
            nextStep: "Restart web; if it does not stay up, read mastodon-web's journal for the exception at boot",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "web"])),
        DiagnosisRule(
            id: "slow_upstream", explains: web,
            needs: "`upstream_timeout` findings: nginx gave up waiting (504)",
            match: { e in e.findings(.upstreamTimeout).nilIfEmpty },
            cause: { e in
                let media = e.findings(.mediaProcessing).isEmpty ? "" : " (media processing errors too)"
                return "puma answers too slowly: nginx gives up with 504\(media)"
            },
            nextStep:
                "Find the slow requests (lograge duration=, db=) before adding threads: more puma threads only help if the database and media processing keep up",
            action: nil),
    ]
}

extension Array {
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}
