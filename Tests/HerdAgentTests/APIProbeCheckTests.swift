import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import NIOHTTP1
import Testing

/// The API probe against the Mastodon stand-in: classification of every answer, the post path with its
/// Idempotency-Key, and rate limits honoured so the probe never causes a 429 itself.
@Suite(.serialized) struct APIProbeCheckTests {
    final class Canary: @unchecked Sendable {
        let app: MastodonStandIn
        let directory: TemporaryDirectory
        var tokenFile: String { directory.file("token") }

        init(token: String? = nil, mode: Int = 0o600) throws {
            app = try MastodonStandIn()
            directory = try TemporaryDirectory("herd-canary")
            try directory.write("token", (token ?? app.token) + "\n")
            chmod(tokenFile, mode_t(mode))
        }

        func run(memory: CheckMemory = CheckMemory(), _ extra: (inout AgentConfiguration) -> Void = { _ in })
            async throws -> CheckOutcome
        {
            try await runServiceCheck(APIProbeCheck(), env: ["LOCAL_DOMAIN": "social.test"], memory: memory) { c in
                c.httpPublicURL = .url(BaseURL(app.baseURL)!)
                c.apiProbeTokenFile = tokenFile
                c.serviceTimeout = .seconds(2)
                extra(&c)
            }
        }

        deinit {
            app.stop()
            directory.remove()
        }
    }

    @Test func healthyCanaryVerifiesCredentials() async throws {
        let canary = try Canary()
        let outcome = try await canary.run()
        #expect(outcome.status == .ok, "\(outcome.summary)")
        #expect(outcome.metrics["verify_credentials.status"] == 200)
        #expect(outcome.metrics["ratelimit.remaining"] == 299)
        let request = try #require(canary.app.requests.first)
        #expect(request.path == "/api/v1/accounts/verify_credentials")
        #expect(request.headers["authorization"] == "Bearer \(canary.app.token)")
        // Only verify_credentials when posting is off.
        #expect(canary.app.requests.count == 1)
        // The token never appears in what the agent reports.
        #expect(!outcome.summary.contains(canary.app.token))
    }

    @Test func notConfiguredIsLeftOutOfTheCycle() throws {
        let configuration = AgentConfiguration()
        let ids = try CheckRegistry.enabled(by: configuration).map(\.id)
        #expect(!ids.contains("mastodon.api_probe"))
        #expect(try CheckRegistry.enabled(by: configuration, only: ["mastodon.api_probe"]).count == 1)
    }

    @Test func rejectedTokenMeansReconnect() async throws {
        let canary = try Canary(token: "expired-token")
        let outcome = try await canary.run()
        #expect(outcome.status == .warning)
        #expect(outcome.summary.contains("reconnect (401: invalid_token"), "\(outcome.summary)")
        #expect(outcome.metrics["retry_safe"] == 0)
        #expect(outcome.findings.first?.category == FindingCategory("api_reconnect"))
        #expect(!outcome.summary.contains("expired-token"))
    }

    @Test(arguments: [
        (MastodonStandIn.AccountState.disabled, "account_disabled"), (.unconfirmed, "account_unconfirmed"),
        (.pendingApproval, "account_pending_approval"),
    ])
    func accountRestrictionsMeanFixInput(state: MastodonStandIn.AccountState, reason: String) async throws {
        let canary = try Canary()
        canary.app.setAccount(state)
        let outcome = try await canary.run()
        #expect(outcome.status == .warning)
        #expect(outcome.summary.contains("fix_input (403: \(reason)"), "\(outcome.summary)")
        #expect(outcome.metrics["retry_safe"] == 0)
    }

    @Test func missingWriteScopeShowsOnThePostPath() async throws {
        let canary = try Canary()
        canary.app.setAccount(.active, scopes: ["read"])
        let outcome = try await canary.run { $0.apiProbePost = true }
        #expect(outcome.status == .warning)
        #expect(outcome.summary.contains("POST /api/v1/statuses: fix_input (403: missing_scope"), "\(outcome.summary)")
        // Refused for good: the next post gets a fresh key.
        #expect(outcome.memory?.strings["post.idempotency_key"] == nil)
    }

    @Test(arguments: [
        ("rails 500", MastodonStandIn.Fault.rails500, CheckStatus.critical, "server_error (500: rails_500", 0.0),
        ("503", .temporary503, .critical, "retry_later (503: temporarily_unavailable", 1),
        (
            "nginx 502", .respond(status: 502, contentType: "text/html", body: NginxServer.mastodonErrorPage),
            .critical, "server_error (502: proxy_502 — HTML page from the proxy", 1
        ),
        ("hang", .hang, .critical, "retry_later (no answer: timeout", 1),
    ])
    func serverSideFailures(
        name: String, fault: MastodonStandIn.Fault, status: CheckStatus, text: String, retrySafe: Double
    ) async throws {
        let canary = try Canary()
        canary.app.setFault("GET /api/v1/accounts/verify_credentials", fault)
        let outcome = try await canary.run { $0.serviceTimeout = .milliseconds(700) }
        #expect(outcome.status == status, "\(name): \(outcome.summary)")
        #expect(outcome.summary.contains(text), "\(name): \(outcome.summary)")
        #expect(outcome.metrics["retry_safe"] == retrySafe)
    }

    @Test func postsADirectStatusWithAnIdempotencyKeyAndDeletesIt() async throws {
        let canary = try Canary()
        let first = try await canary.run { $0.apiProbePost = true }
        #expect(first.status == .ok, "\(first.summary)")
        let methods = canary.app.requests.map {
            "\($0.method) \($0.path.hasPrefix("/api/v1/statuses/") ? "/api/v1/statuses/:id" : $0.path)"
        }
        #expect(
            methods == [
                "GET /api/v1/accounts/verify_credentials", "POST /api/v1/statuses", "DELETE /api/v1/statuses/:id",
            ])
        let post = canary.app.requests[1]
        #expect(post.headers["idempotency-key"]?.count == 36)
        #expect(String(decoding: post.body, as: UTF8.self).contains(#""visibility":"direct""#))
        #expect(canary.app.liveStatuses.isEmpty)
        #expect(first.metrics["post.status"] == 200 && first.metrics["delete.status"] == 200)

        // Within the interval the next cycle only reads.
        let second = try await canary.run(memory: first.memory ?? CheckMemory()) { $0.apiProbePost = true }
        #expect(second.status == .ok)
        #expect(canary.app.requests.count == 4)
    }

    @Test func aLostPostAnswerIsRetriedWithTheSameKeyAndNothingIsLeftBehind() async throws {
        let canary = try Canary()
        canary.app.setFault("POST /api/v1/statuses", .loseAnswer)
        let first = try await canary.run { $0.apiProbePost = true }
        #expect(first.status == .critical)
        #expect(first.summary.contains("server_error (504: proxy_504"), "\(first.summary)")
        #expect(first.metrics["retry_safe"] == 1)
        #expect(canary.app.liveStatuses.count == 1)  // created, though the client never heard of it

        canary.app.setFault("POST /api/v1/statuses", nil)
        let second = try await canary.run(memory: first.memory ?? CheckMemory()) { $0.apiProbePost = true }
        #expect(second.status == .ok, "\(second.summary)")
        let posts = canary.app.requests.filter { $0.method == "POST" }
        #expect(posts.count == 2)
        #expect(posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"])
        #expect(canary.app.liveStatuses.isEmpty)
    }

    @Test func aFailedDeleteIsRetriedNextCycle() async throws {
        let canary = try Canary()
        let id = "109000000000000001"
        canary.app.setFault("DELETE /api/v1/statuses/\(id)", .temporary503)
        let first = try await canary.run { $0.apiProbePost = true }
        #expect(first.memory?.strings["post.delete_id"] == id)
        #expect(canary.app.liveStatuses == [id])
        canary.app.setFault("DELETE /api/v1/statuses/\(id)", nil)
        let second = try await canary.run(memory: first.memory ?? CheckMemory()) { $0.apiProbePost = true }
        #expect(second.status == .ok, "\(second.summary)")
        #expect(second.memory?.strings["post.delete_id"] == nil)
        #expect(canary.app.liveStatuses.isEmpty)
    }

    @Test func neverCausesA429() async throws {
        let canary = try Canary()
        canary.app.setRateLimit("api", limit: 4)
        var memory = CheckMemory()
        var outcomes: [CheckOutcome] = []
        for _ in 0..<6 {
            let outcome = try await canary.run(memory: memory) { $0.apiProbeRateLimitReserve = 2 }
            outcomes.append(outcome)
            memory = outcome.memory ?? memory
        }
        // 4 allowed, 2 kept in reserve: two requests, then the probe waits for the reset.
        #expect(canary.app.requests.count == 2)
        #expect(outcomes.allSatisfy { $0.status == .ok }, "\(outcomes.map(\.summary))")
        #expect(outcomes[2].summary.contains("probe paused until"), "\(outcomes[2].summary)")
        #expect(outcomes[2].metrics["paused"] == 1)
    }

    @Test func aRateLimitCausedElsewhereSaysWhenToRetry() async throws {
        let canary = try Canary()
        canary.app.setRateLimit("api", limit: 0)
        let outcome = try await canary.run()
        #expect(outcome.status == .warning)
        #expect(outcome.summary.contains("retry_later (429: rate_limited"), "\(outcome.summary)")
        let wait = try #require(outcome.metrics["retry_after_s"])
        #expect(wait > 200 && wait <= 301)
        #expect(outcome.metrics["retry_safe"] == 1)
    }

    @Test(arguments: [(0o644, "readable by others"), (0o640, "readable by others")])
    func tokenFileMustBePrivate(mode: Int, text: String) async throws {
        let canary = try Canary(mode: mode)
        let outcome = try await canary.run()
        #expect(outcome.status == .unknown)
        #expect(outcome.summary.contains(text))
        #expect(canary.app.requests.isEmpty)
    }

    @Test func tokenFileCannotInjectHeaders() async throws {
        let canary = try Canary(token: "abc\r\nX-Injected: 1")
        let outcome = try await canary.run()
        #expect(outcome.status == .unknown)
        #expect(outcome.summary.contains("does not hold a token"))
        #expect(!outcome.summary.contains("abc"))
        #expect(canary.app.requests.isEmpty)
    }

    // MARK: The classification table

    @Test(arguments: [
        (200, "application/json", #"{"id":"1"}"#, APIVerdict.Action.ok, "ok", false),
        (401, "application/json", #"{"error":"The access token was revoked"}"#, .reconnect, "token_revoked", false),
        (
            400, "application/json",
            #"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid"}"#, .reconnect,
            "invalid_grant", false
        ),
        (400, "application/json", #"{"error":"Missing parameter"}"#, .fixInput, "bad_request", false),
        (403, "application/json", #"{"error":"This action is not allowed"}"#, .fixInput, "not_permitted", false),
        (404, "application/json", #"{"error":"Record not found"}"#, .fixInput, "not_found", false),
        (422, "application/json", #"{"error":"Duplicate record"}"#, .fixInput, "duplicate", false),
        (
            422, "application/json", #"{"error":"Validation failed: Text can't be blank"}"#, .fixInput,
            "validation_failed", false
        ),
        (
            503, "application/json", #"{"error":"Remote data could not be fetched"}"#, .retryLater,
            "remote_fetch_failed", true
        ),
        (504, "text/html", "<html>", .serverError, "proxy_504", true),
        (500, "application/json", #"{"status":500,"error":"Internal Server Error"}"#, .serverError, "rails_500", false),
    ])
    func classification(
        status: Int, type: String, body: String, action: APIVerdict.Action, reason: String, retrySafe: Bool
    ) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: type)
        let verdict = APIVerdict.classify(
            HTTPReply(status: status, headers: headers, body: Array(body.utf8)), now: Date())
        #expect(verdict.action == action)
        #expect(verdict.reason == reason)
        #expect(verdict.retrySafe == retrySafe)
    }

    /// Media uploads answer 202 while processing and 206 until ready: successes, not errors.
    @Test func mediaProcessingStatesAreNotErrors() async throws {
        let app = try MastodonStandIn()
        defer { app.stop() }
        let fetcher = try HTTPFetcher(connectTimeout: .seconds(2))
        var headers = HTTPHeaders()
        headers.add(name: "Authorization", value: "Bearer \(app.token)")
        let upload = try await fetcher.fetch(
            .POST, app.baseURL + "/api/v2/media", headers: headers, body: Array("file".utf8), timeout: .seconds(2)
        ).get()
        let poll = try await fetcher.fetch(
            .GET, app.baseURL + "/api/v1/media/2", headers: headers, timeout: .seconds(2)
        )
        .get()
        await fetcher.shutdown()
        #expect(APIVerdict.classify(upload, now: Date()).reason == "processing")
        #expect(APIVerdict.classify(poll, now: Date()).reason == "still_processing")
        #expect(APIVerdict.classify(poll, now: Date()).action == .ok)
    }

    @Test func rateLimitResetIsISO8601WithMicroseconds() {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "X-RateLimit-Reset", value: "2026-11-22T01:05:00.000000Z")
        let now = WireTime.parse("2026-11-22T01:00:00Z")!
        let verdict = APIVerdict.classify(
            HTTPReply(status: 429, headers: headers, body: Array(#"{"error":"Too many requests"}"#.utf8)), now: now)
        #expect(verdict.retryAfter == 300)
    }
}
