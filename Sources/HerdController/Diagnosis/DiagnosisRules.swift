import HerdProtocol

/// The posting-error playbook as rules, most specific cause first: a missing dependency (Redis, the
/// database) explains the 5xx and the Sidekiq failures it causes, so it comes before them.
enum DiagnosisRules {
    static let web: Set<String> = [
        "logs", "mastodon.http", "mastodon.api_probe", "nginx.error_log", "nginx.access_log",
    ]

    static let all: [DiagnosisRule] = [
        DiagnosisRule(
            id: "redis_down", explains: web.union(["sidekiq", "services"]),
            match: { e in e.findings(.redisDown).nilIfEmpty.map { $0 + e.summary("sidekiq") } },
            cause: { _ in "Redis is down or unreachable: Sidekiq and the web's caches and streaming fail with it" },
            nextStep:
                "Start redis-server and look at why it stopped (its log, memory, disk: MISCONF means it cannot save); web and Sidekiq reconnect by themselves",
            action: nil),
        DiagnosisRule(
            id: "db_pool_exhausted", explains: web.union(["postgresql", "sidekiq"]),
            match: { e in
                var lines = e.findings(.dbPoolExhausted)
                if let used = e.metric("postgresql", "connections.used_percent"), used >= 90 {
                    lines += e.summary("postgresql")
                }
                return lines.nilIfEmpty
            },
            cause: { e in
                let used = e.metric("postgresql", "connections.used_percent").map {
                    " (\(Int($0)) % of connections in use)"
                }
                return "The database's connections are exhausted\(used ?? "")"
            },
            nextStep:
                "Raise max_connections in PostgreSQL, or lower DB_POOL / MAX_THREADS × WEB_CONCURRENCY and Sidekiq concurrency so that every pool fits; a restart only hides it for a while",
            action: nil),
        DiagnosisRule(
            id: "db_unreachable", explains: web.union(["postgresql", "sidekiq"]),
            match: { e in e.findings(.dbConnection).nilIfEmpty },
            cause: { _ in "PostgreSQL is unreachable" },
            nextStep:
                "Check that PostgreSQL runs (systemctl status postgresql) and that DB_HOST/DB_PORT in .env.production point at it; web and Sidekiq reconnect by themselves",
            action: nil),
        DiagnosisRule(
            id: "disk_full", explains: web.union(["disk", "postgresql", "media", "sidekiq"]),
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
                return "The \(name) volume is \(Int(fullest.value * 100)) % full\(hours ?? "")"
            },
            nextStep:
                "Free space: tootctl media remove (cached remote media), then tootctl preview_cards remove; then restart web so it can write again",
            action: SuggestedAction(action: "media-remove", parameters: ["days": "7"])),
        DiagnosisRule(
            id: "oom_kill", explains: web.union(["oom", "services", "resources", "sidekiq"]),
            match: { e in e.findings(.oomKill).nilIfEmpty.map { $0 + e.summary("resources") } },
            cause: { e in
                let victims = e.results.values.flatMap(\.findings).filter { $0.category == .oomKill }.map(\.signature)
                return "The kernel's OOM killer is at work: \(Set(victims).sorted().joined(separator: ", "))"
            },
            nextStep:
                "Lower memory use before restarting: fewer puma workers (WEB_CONCURRENCY) or Sidekiq threads, MALLOC_ARENA_MAX=2, jemalloc; or add memory or swap",
            action: nil),
        DiagnosisRule(
            id: "sidekiq_down", explains: ["sidekiq", "services", "logs"],
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
            id: "sidekiq_stuck", explains: ["sidekiq", "logs"],
            match: { e in
                let stale = (e.metric("sidekiq", "processes.stale") ?? 0) > 0
                let busy = e.metric("sidekiq", "threads.busy") ?? 0
                let total = e.metric("sidekiq", "threads.total") ?? 0
                let saturated = total > 0 && busy >= total && e.status("sidekiq") != .ok
                return stale || saturated ? e.summary("sidekiq") : nil
            },
            cause: { _ in "Sidekiq is stuck: stale heartbeats or every thread busy while the queues grow" },
            nextStep:
                "Restart Sidekiq; if it sticks again, look for a job class that hangs (the logs' Sidekiq failures)",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"])),
        DiagnosisRule(
            id: "web_down", explains: web.union(["services"]),
            match: { e in
                let unitDown = e.metric("services", "mastodon-web.active") == 0
                let lines = e.findings(.upstreamUnreachable)
                guard unitDown || !lines.isEmpty else { return nil }
                return lines + e.summary("mastodon.http") + (unitDown ? e.summary("services") : [])
            },
            cause: { _ in "Mastodon's web process (puma) is down behind nginx: nginx answers 502" },
            nextStep: "Restart web; if it does not stay up, read mastodon-web's journal for the exception at boot",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "web"])),
        DiagnosisRule(
            id: "slow_upstream", explains: web,
            match: { e in e.findings(.upstreamTimeout).nilIfEmpty },
            cause: { e in
                let media = e.findings(.mediaProcessing).isEmpty ? "" : " (media processing errors too)"
                return "puma answers too slowly: nginx gives up with 504\(media)"
            },
            nextStep:
                "Find the slow requests (lograge duration=, db=) before adding threads: more puma threads only help if the database and media processing keep up",
            action: nil),
        DiagnosisRule(
            id: "media_broken", explains: web.union(["media"]),
            match: { e in
                let lines = e.findings(.mediaProcessing) + e.findings(.permissionDenied)
                return e.status("media") == .critical ? lines + e.summary("media") : lines.nilIfEmpty
            },
            cause: { _ in "Media processing is broken: a media tool is missing or the media directory is not writable"
            },
            nextStep:
                "Install ffmpeg and libvips (or ImageMagick before 4.4); chown -R mastodon:mastodon the media directory (public/system)",
            action: nil),
        DiagnosisRule(
            id: "database_encoding", explains: web.union(["postgresql"]),
            match: { e in e.findings(.encodingError).nilIfEmpty },
            cause: { _ in "The database is not UTF8: posts with characters outside its encoding fail" },
            nextStep:
                "Dump the database and restore it into a new UTF8 database (pg_dump, createdb -E UTF8, pg_restore)",
            action: nil),
        DiagnosisRule(
            id: "object_storage", explains: web.union(["media"]),
            match: { e in e.findings(.objectStorage).nilIfEmpty },
            cause: { _ in "The object storage answers with errors: media uploads and posts with media fail" },
            nextStep:
                "Check the storage provider's status and the S3_* credentials; when other instances on the same endpoint fail too, it is the provider's incident",
            action: nil),
        DiagnosisRule(
            id: "canary_token", explains: ["mastodon.api_probe"],
            match: { e in e.findings(FindingCategory("api_reconnect")).nilIfEmpty },
            cause: { _ in "The canary account's token is no longer valid; the instance itself answered" },
            nextStep: "Issue the canary account a new token and write it to api_probe.token_file (mode 0600)",
            action: nil),
        DiagnosisRule(
            id: "rate_limited", explains: ["mastodon.api_probe"],
            match: { e in
                e.findings(FindingCategory("api_retry_later")).filter { $0.contains("rate_limited") }.nilIfEmpty
            },
            cause: { e in
                let wait = e.metric("mastodon.api_probe", "retry_after_s").map { " for \(Int($0)) s" } ?? ""
                return "The API rate-limits the canary\(wait)"
            },
            nextStep: "Wait for the limit to reset; nothing is broken",
            action: nil),
        DiagnosisRule(
            id: "tls", explains: web.union(["postgresql", "sidekiq"]),
            match: { e in e.findings(.tlsError).nilIfEmpty },
            cause: { _ in "A TLS handshake fails (certificate expired, wrong name or untrusted)" },
            nextStep: "Renew or fix the certificate named in the evidence (certbot renew; then reload nginx)",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "nginx"])),
        DiagnosisRule(
            id: "errors_under_load", explains: web,
            match: { e in e.patterns.contains(.underLoad) ? e.summary("nginx.access_log") : nil },
            cause: { _ in "5xx rise and fall with traffic: a resource runs out under load (pool, workers, memory)" },
            nextStep:
                "Compare DB_POOL with MAX_THREADS, the database's connections and memory at peak; raise the one that runs out",
            action: nil),
    ]
}

extension Array {
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}
