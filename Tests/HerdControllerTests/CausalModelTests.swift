import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// The causal model as operators read it — Controller/README.md's table — is the rule list the
/// controller diagnoses and groups with; and each cause, on evidence shaped as the agent reports it,
/// is named for the checks it explains (and not for those it does not).
@Suite struct CausalModelTests {
    static func table() -> String {
        var lines = [
            "| # | cause (rule) | explains these checks' trouble | evidence it needs | remediation offered |",
            "|---|---|---|---|---|",
        ]
        for (index, rule) in DiagnosisRules.all.enumerated() {
            let action = rule.action.map { action in
                "`"
                    + ([action.action] + action.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                    .joined(separator: " ") + "`"
            }
            lines.append(
                "| \(index + 1) | `\(rule.id)` | \(rule.explains.sorted().joined(separator: ", ")) | \(rule.needs) | \(action ?? "none") |"
            )
        }
        return lines.joined(separator: "\n")
    }

    /// `HERD_UPDATE_GOLDEN=1 swift test --filter CausalModelTests` rewrites the table (review the diff).
    @Test func theReadmeTableIsTheRuleList() throws {
        let path = RepositoryPaths.path("Controller/README.md")
        let readme = try String(contentsOfFile: path, encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- causal-model -->\n"))
        let end = try #require(readme.range(of: "<!-- /causal-model -->", range: start.upperBound..<readme.endIndex))
        let written = String(readme[start.upperBound..<end.lowerBound])
        let table = Self.table() + "\n"
        if ProcessInfo.processInfo.environment["HERD_UPDATE_GOLDEN"] == "1", written != table {
            try readme.replacingCharacters(in: start.upperBound..<end.lowerBound, with: table)
                .write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        #expect(written == table, "Controller/README.md's causal model table differs from DiagnosisRules.all")
    }

    static func diagnose(
        _ check: String, _ results: [CheckResult], patterns: Set<Pattern> = [.persistent],
        recent: [String: String] = [:]
    ) -> Diagnosis {
        let report = Report(
            agentID: "a", instance: "social.example", sequence: 1, collectedAt: Date(), sentAt: Date(),
            agentVersion: "0.1.0", intervalSeconds: 60, host: HostFacts(hostname: "h"), results: results)
        return Diagnoser.diagnose(checkID: check, report: report, patterns: patterns, recent: recent)
    }

    static func finding(_ category: FindingCategory, _ signature: String, _ sample: String) -> Finding {
        Finding(category: category, signature: signature, count: 3, sample: sample)
    }

    static let prematurelyClosed = finding(
        .upstreamUnreachable, "upstream prematurely closed connection",
        "upstream prematurely closed connection while reading response header from upstream, client: 10.0.0.1, server: social.example, request: \"GET /api/v1/timelines/home HTTP/1.1\", upstream: \"http://127.0.0.1:3000/api/v1/timelines/home\""
    )

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var check: String
        var results: [CheckResult]
        var patterns: Set<Pattern> = [.persistent]
        /// Each check's recent raw statuses, as `check_state` keeps them.
        var recent: [String: String] = [:]
        var rule: String
        var action: SuggestedAction? = nil
        var cause: String? = nil
        var nextStep: String? = nil
        var testDescription: String { name }
    }

    static let cases: [Case] = playbookCases + edgeCases + logCases

    static let playbookCases: [Case] = [
        Case(
            name: "Redis refused: Sidekiq's failure is Redis's", check: "sidekiq",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .redisDown, "Redis::CannotConnectError",
                            "Redis::CannotConnectError (Error connecting to Redis on localhost:6379 (Errno::ECONNREFUSED))"
                        )
                    ]),
                PatternTests.result("sidekiq", .unknown),
            ], rule: "redis_down"),
        Case(
            name: "too many clients: the server's limit, with the host's numbers", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .dbConnectionLimit, "too many clients",
                            "PG::ConnectionBad: FATAL:  sorry, too many clients already")
                    ]),
                PatternTests.result(
                    "postgresql", .critical,
                    metrics: ["connections.used_percent": 100, "connections.available": 97, "pool_budget": 135]),
            ], rule: "db_connections_exhausted", nextStep: "Mastodon's pools may open 135 and the server allows 97"),
        Case(
            name: "connections exhausted by something other than Mastodon's pools", check: "postgresql",
            results: [
                PatternTests.result(
                    "postgresql", .critical,
                    metrics: ["connections.used_percent": 95, "connections.available": 37, "pool_budget": 20],
                    findings: [
                        finding(
                            .dbPoolExhausted, "PostgreSQL connections nearly exhausted", "35 of 37 connections in use")
                    ])
            ], rule: "db_connections_exhausted", cause: "may open only 20 of 37: something else holds them",
            nextStep: "pg_stat_activity"),
        Case(
            name: "ConnectionTimeoutError at 3 % of connections: Rails' pool, DB_POOL below MAX_THREADS",
            check: "mastodon.http",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .dbPoolExhausted, "ActiveRecord::ConnectionTimeoutError",
                            "ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use)"
                        )
                    ]),
                PatternTests.result("mastodon.http", .critical),
                PatternTests.result(
                    "postgresql", .ok,
                    metrics: [
                        "connections.used_percent": 3, "pool.db_pool": 5, "pool.web_threads": 10,
                        "pool.sidekiq_threads": 25,
                    ]),
            ], rule: "rails_pool_exhausted", cause: "3 % of connections in use",
            nextStep: "DB_POOL=5 is below MAX_THREADS=10"),
        Case(
            name: "PostgreSQL stopped", check: "postgresql",
            results: [
                PatternTests.result(
                    "postgresql", .critical,
                    findings: [
                        finding(
                            .dbConnection, "connection refused",
                            "connection to 127.0.0.1:5432 refused: Connection refused")
                    ])
            ], rule: "db_unreachable"),
        Case(
            name: "disk full explains the web's 500s", check: "mastodon.http",
            results: [
                PatternTests.result("disk", .critical, metrics: ["root.used_ratio": 0.99]),
                PatternTests.result("mastodon.http", .critical),
            ], rule: "disk_full", action: SuggestedAction(action: "media-remove", parameters: ["days": "7"]),
            cause: "root volume is 99 % full"),
        Case(
            name: "one OOM kill", check: "oom",
            results: [
                PatternTests.result(
                    "oom", .critical,
                    findings: [
                        finding(
                            .oomKill, "OOM kill: bundle",
                            "Out of memory: Killed process 4242 (bundle) total-vm:2811204kB, anon-rss:1918000kB")
                    ])
            ], rule: "oom_kill", cause: "OOM kill: bundle"),
        Case(
            name: "a crash loop", check: "services",
            results: [
                PatternTests.result(
                    "services", .warning,
                    metrics: ["mastodon-web.active": 1, "mastodon-web.restarts": 14, "mastodon-web.restarts_delta": 3])
            ], patterns: [.flapping], rule: "crash_loop", cause: "mastodon-web (3×)",
            nextStep: "journalctl -u mastodon-web"),
        Case(
            name: "Sidekiq stopped", check: "sidekiq",
            results: [PatternTests.result("sidekiq", .critical, metrics: ["processes.live": 0, "latency_s": 900])],
            rule: "sidekiq_down", action: SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"])
        ),
        Case(
            name: "Sidekiq saturated", check: "sidekiq",
            results: [
                PatternTests.result(
                    "sidekiq", .warning,
                    metrics: ["processes.live": 1, "threads.busy": 25, "threads.total": 25, "latency_s": 40])
            ], rule: "sidekiq_stuck",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"])),
        Case(
            name: "a job holding its thread for days", check: "sidekiq",
            results: [
                PatternTests.result(
                    "sidekiq", .warning,
                    metrics: ["processes.live": 1, "threads.busy": 2, "threads.total": 25, "busy.oldest_s": 259_800],
                    findings: [
                        Finding(
                            category: .sidekiqBacklogOrRetry, signature: "Sidekiq job running for hours", count: 1,
                            sample: "LinkCrawlWorker has run 3 d 0 h on masto-1 (queue pull)")
                    ])
            ], rule: "sidekiq_stuck",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"]),
            cause: "LinkCrawlWorker has run 3 d 0 h"),
        Case(
            name: "a backlog while Sidekiq lives", check: "sidekiq",
            results: [
                PatternTests.result(
                    "sidekiq", .critical,
                    metrics: [
                        "processes.live": 1, "threads.busy": 3, "threads.total": 25, "latency_s": 1800,
                        "queue.push.latency_s": 1800, "queue.default.latency_s": 2,
                    ],
                    findings: [finding(.sidekiqBacklogOrRetry, "Sidekiq queue latency", "queue push 1800 s behind")])
            ], rule: "sidekiq_backlog", cause: "push 1800 s behind"),
        Case(
            name: "retries growing", check: "sidekiq",
            results: [
                PatternTests.result(
                    "sidekiq", .warning,
                    metrics: ["processes.live": 1, "threads.total": 25, "retry.growth": 120, "dead.growth": 0],
                    findings: [finding(.sidekiqBacklogOrRetry, "Sidekiq retry set growing", "retry set grew by 120")])
            ], rule: "sidekiq_failing", cause: "retry set +120"),
        Case(
            name: "streaming down: restart streaming, not web", check: "nginx.error_log",
            results: [
                PatternTests.result(
                    "nginx.error_log", .warning,
                    findings: [
                        finding(
                            .upstreamUnreachable, "connect() failed (111: Connection refused)",
                            "connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, server: social.example, request: \"GET /api/v1/streaming HTTP/1.1\", upstream: \"http://127.0.0.1:4000/api/v1/streaming\""
                        )
                    ]),
                PatternTests.result(
                    "services", .critical, metrics: ["mastodon-web.active": 1, "mastodon-streaming.active": 0]),
            ], rule: "streaming_down",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "streaming"])),
        Case(
            name: "an intermittent 502 while web stays up", check: "nginx.error_log",
            results: [
                PatternTests.result(
                    "nginx.error_log", .warning,
                    findings: [
                        finding(
                            .upstreamUnreachable, "upstream prematurely closed connection",
                            "upstream prematurely closed connection while reading response header from upstream, upstream: \"http://127.0.0.1:3000/api/v1/timelines/home\""
                        )
                    ]),
                PatternTests.result("services", .ok, metrics: ["mastodon-web.active": 1]),
            ], patterns: [.recurring], rule: "web_intermittent"),
        Case(
            name: "502s in every cycle while puma answers its health check: intermittent", check: "logs",
            results: [
                PatternTests.result("nginx.error_log", .warning, findings: [prematurelyClosed]),
                PatternTests.result("logs", .warning),
                PatternTests.result("mastodon.http", .ok, metrics: ["web.direct.status": 200]),
            ], rule: "web_intermittent"),
        Case(
            name: "502s and API answers in the same cycle, puma's probe failing: intermittent", check: "logs",
            results: [
                PatternTests.result("nginx.error_log", .warning, findings: [prematurelyClosed]),
                PatternTests.result("logs", .warning),
                PatternTests.result("nginx.access_log", .warning, metrics: ["status_502": 3, "api.status_2xx": 4]),
                PatternTests.result("mastodon.http", .critical),
            ], recent: ["mastodon.http": "oooooooocc"], rule: "web_intermittent"),
        Case(
            name: "502s, puma silent in this cycle but answering between failures: intermittent", check: "logs",
            results: [
                PatternTests.result("nginx.error_log", .warning, findings: [prematurelyClosed]),
                PatternTests.result("logs", .warning),
                PatternTests.result("mastodon.http", .critical),
            ], recent: ["mastodon.http": "oooooococ"], rule: "web_intermittent"),
        Case(
            name: "502s and puma answering nothing since they began: down", check: "nginx.error_log",
            results: [
                PatternTests.result("nginx.error_log", .warning, findings: [prematurelyClosed]),
                PatternTests.result("mastodon.http", .critical),
                // Static files still 200 from nginx itself; no API request answered.
                PatternTests.result(
                    "nginx.access_log", .critical, metrics: ["status_502": 7, "api.status_2xx": 0, "status_2xx": 12]),
            ],
            recent: ["mastodon.http": "oooooooccc"], rule: "web_down",
            action: SuggestedAction(action: "restart-service", parameters: ["service": "web"])),
        Case(
            name: "puma stopped", check: "mastodon.http",
            results: [
                PatternTests.result("mastodon.http", .critical),
                PatternTests.result("services", .critical, metrics: ["mastodon-web.active": 0]),
            ], rule: "web_down", action: SuggestedAction(action: "restart-service", parameters: ["service": "web"])),
        Case(
            name: "puma slow", check: "nginx.error_log",
            results: [
                PatternTests.result(
                    "nginx.error_log", .warning,
                    findings: [
                        finding(
                            .upstreamTimeout, "upstream timed out (110: Connection timed out)",
                            "upstream timed out (110: Connection timed out) while reading response header from upstream"
                        )
                    ])
            ], rule: "slow_upstream"),
        Case(
            name: "ffmpeg missing", check: "media",
            results: [
                PatternTests.result(
                    "media", .critical,
                    findings: [
                        finding(.mediaProcessing, "ffmpeg missing", "ffmpeg: not found in PATH /usr/bin:/bin")
                    ])
            ], rule: "media_broken"),
        Case(
            name: "media failing does not explain an HTTP check the config broke", check: "mastodon.http",
            results: [
                PatternTests.result("media", .critical), PatternTests.result("mastodon.http", .critical),
                PatternTests.result("mastodon.config", .critical),
            ], rule: "config_broken"),
        Case(
            name: "SQL_ASCII", check: "postgresql",
            results: [
                PatternTests.result(
                    "postgresql", .critical,
                    findings: [
                        finding(
                            .encodingError, "PostgreSQL database not UTF8",
                            "encoding SQL_ASCII (server SQL_ASCII): Mastodon needs UTF8")
                    ])
            ], rule: "database_encoding"),
        Case(
            name: "object storage", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .objectStorage, "Aws::S3::Errors::ServiceUnavailable",
                            "Aws::S3::Errors::ServiceUnavailable: Service Unavailable")
                    ])
            ], rule: "object_storage"),
        Case(
            name: "a Rails 500 on POST /api/v1/statuses", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .appError, "HTTP 500 NoMethodError",
                            "method=POST path=/api/v1/statuses format=json controller=Api::V1::StatusesController action=create status=500 error='NoMethodError: undefined method `id' for nil'"
                        )
                    ])
            ], rule: "rails_exception", cause: "Mastodon raises NoMethodError"),
        Case(
            name: "the probe's 401", check: "mastodon.api_probe",
            results: [
                PatternTests.result(
                    "mastodon.api_probe", .warning,
                    findings: [
                        finding(
                            FindingCategory("api_reconnect"), "API probe reconnect: invalid_token",
                            "verify_credentials: reconnect (401: invalid_token — The access token is invalid)")
                    ])
            ], rule: "canary_token"),
        Case(
            name: "the probe's 403", check: "mastodon.api_probe",
            results: [
                PatternTests.result(
                    "mastodon.api_probe", .warning,
                    findings: [
                        finding(
                            FindingCategory("api_fix_input"), "API probe fix_input: account_disabled",
                            "post: fix_input (403: account_disabled — Your login is currently disabled)")
                    ])
            ], rule: "canary_refused", cause: "account_disabled"),
        Case(
            name: "the probe's 429", check: "mastodon.api_probe",
            results: [
                PatternTests.result(
                    "mastodon.api_probe", .warning, metrics: ["retry_after_s": 120],
                    findings: [
                        finding(
                            FindingCategory("api_retry_later"), "API probe retry_later: rate_limited",
                            "post: retry_later (429: rate_limited)")
                    ])
            ], rule: "rate_limited", cause: "for 120 s"),
        Case(
            name: "the probe's 503", check: "mastodon.api_probe",
            results: [
                PatternTests.result(
                    "mastodon.api_probe", .critical,
                    findings: [
                        finding(
                            FindingCategory("api_retry_later"), "API probe retry_later: proxy_503",
                            "verify_credentials: retry_later (503: proxy_503 — HTML page from the proxy)")
                    ])
            ], rule: "api_unavailable"),
        Case(
            name: "the probe's 500", check: "mastodon.api_probe",
            results: [
                PatternTests.result(
                    "mastodon.api_probe", .critical,
                    findings: [
                        finding(
                            FindingCategory("api_server_error"), "API probe server_error: rails_500",
                            "post: server_error (500: rails_500 — Internal Server Error)")
                    ])
            ], rule: "rails_exception"),
    ]

    @Test(arguments: cases)
    func eachCauseIsNamedOnItsEvidence(_ c: Case) {
        let diagnosis = Self.diagnose(c.check, c.results, patterns: c.patterns, recent: c.recent)
        #expect(diagnosis.rule == c.rule, "\(diagnosis.cause)")
        #expect(diagnosis.action == c.action)
        if let cause = c.cause { #expect(diagnosis.cause.contains(cause), "\(diagnosis.cause)") }
        if let next = c.nextStep { #expect(diagnosis.nextStep.contains(next), "\(diagnosis.nextStep)") }
        if c.rule != Diagnoser.unexplained { #expect(!diagnosis.evidence.isEmpty) }
    }

    /// Every rule in the model has a case above.
    @Test func everyRuleHasACase() {
        let covered = Set(Self.cases.map(\.rule))
        #expect(Set(DiagnosisRules.all.map(\.id)).subtracting(covered).isEmpty)
    }
}
