import FoundationEssentials
import HerdProtocol
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// The seed "Mastodon API errors and troubleshooting" as a probe: with a canary account's token,
/// `GET /api/v1/accounts/verify_credentials` every cycle and, when `api_probe.post` is on, the real post
/// path — `POST /api/v1/statuses` (visibility `direct`, with an `Idempotency-Key`) then `DELETE` — at most
/// once per `api_probe.post_interval`. Every answer is classified (`APIVerdict`): reconnect, fix input,
/// retry later, server error, with `retry_safe`. The probe never causes a 429 itself: it keeps
/// `X-RateLimit-Remaining` in memory and waits for the reset when the reserve is reached. A post whose
/// answer was lost (timeout, 502/504) is retried next cycle with the same key, which Mastodon honours for
/// an hour, so it is deleted rather than duplicated; a status whose delete failed is deleted next cycle.
public struct APIProbeCheck: Check {
    public let id = "mastodon.api_probe"
    public let title = "Mastodon API probe: verify_credentials and a real post with a canary token"
    public let playbookStep = "1 · reproduce \"Internal Server Error when posting\" the way users hit it"

    static let maxTokenBytes = 4096
    static let maxBodyBytes = 256 << 10

    public init() {}

    public func isConfigured(by configuration: AgentConfiguration) -> Bool { configuration.apiProbeTokenFile != nil }

    public func run(in context: CheckContext) async throws -> CheckOutcome {
        let configuration = context.configuration
        guard let tokenFile = configuration.apiProbeTokenFile else {
            return .unknown("no canary token: set api_probe.token_file (or disable mastodon.api_probe)")
        }
        let token: String
        do {
            token = try Self.readToken(tokenFile)
        } catch {
            return .unknown(error.description)
        }
        guard let env = context.mastodon.env else {
            return .unknown("cannot read \(context.mastodon.envProblem ?? context.mastodon.envFile)")
        }
        let endpoints = MastodonEndpoints.resolve(
            configuration, env: env.values, streamingPorts: [], resolvePath: context.filesystem.resolve)
        guard let base = endpoints.publicBase else {
            return .unknown("no public URL to probe (http.public_url is off and WEB_DOMAIN/LOCAL_DOMAIN unset)")
        }
        let timeout = min(configuration.serviceTimeout, context.remaining)
        let fetcher: HTTPFetcher
        do {
            var override: [String: String] = [:]
            if let address = configuration.httpPublicAddress { override[base.host] = address }
            fetcher = try HTTPFetcher.shared(
                caFile: configuration.httpCAFile, dnsOverride: override, connectTimeout: configuration.serviceTimeout)
        } catch {
            return .unknown(error.description)
        }
        var probe = Probe(
            fetcher: fetcher, base: base.description, token: token, timeout: timeout, now: context.now,
            configuration: configuration, memory: context.memory)
        let outcome = await probe.run()
        return outcome
    }

    /// The token, from a file only its owner can read; never logged, never in an error message.
    static func readToken(_ path: String) throws(ConfigurationError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ConfigurationError("cannot read the canary token file \(path) (errno \(errno))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw ConfigurationError("the canary token file \(path) is readable by others: chmod 600 it")
        }
        guard info.st_size <= maxTokenBytes, let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("the canary token file \(path) is unreadable or over \(maxTokenBytes) bytes")
        }
        let token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isWhitespace).joined(separator: " ")
        // A header value: printable ASCII only, so a stray newline can never inject a header.
        guard !token.isEmpty, token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw ConfigurationError("the canary token file \(path) does not hold a token")
        }
        return token
    }

    /// One cycle of the probe: the requests, their verdicts, and what to remember.
    struct Probe {
        let fetcher: HTTPFetcher
        let base: String
        let token: String
        let timeout: Duration
        let now: Date
        let configuration: AgentConfiguration
        var memory: CheckMemory
        var budget: RateLimitBudget
        var verdicts: [(step: String, verdict: APIVerdict)] = []
        var metrics: [String: Double] = [:]
        var notes: [String] = []

        init(
            fetcher: HTTPFetcher, base: String, token: String, timeout: Duration, now: Date,
            configuration: AgentConfiguration, memory: CheckMemory
        ) {
            self.fetcher = fetcher
            self.base = base
            self.token = token
            self.timeout = timeout
            self.now = now
            self.configuration = configuration
            self.memory = memory
            self.budget = RateLimitBudget(memory: memory)
        }

        var nowSeconds: Double { now.timeIntervalSince1970 }

        mutating func run() async -> CheckOutcome {
            let reserve = configuration.apiProbeRateLimitReserve
            if let until = budget.wait(for: .api, cost: 1, reserve: reserve, now: nowSeconds) {
                return paused(until: until)
            }
            guard let credentials = await request(.GET, "/api/v1/accounts/verify_credentials", family: .api),
                credentials.verdict.action == .ok
            else { return finish() }

            if let leftover = memory.strings["post.delete_id"] {
                await delete(leftover)
            }
            if configuration.apiProbePost, memory.strings["post.delete_id"] == nil {
                let last = memory.numbers["post.last_at"] ?? 0
                if nowSeconds - last >= configuration.apiProbePostInterval.seconds {
                    if let until = budget.wait(for: .statuses, cost: 1, reserve: reserve, now: nowSeconds)
                        ?? budget.wait(for: .api, cost: 1, reserve: reserve, now: nowSeconds)
                    {
                        notes.append(
                            "post skipped until \(WireTime.format(Date(timeIntervalSince1970: until))) (rate limit)")
                    } else {
                        await post()
                    }
                }
            }
            return finish()
        }

        /// One request: its verdict recorded, its rate-limit headers kept. Nil when it never got an answer.
        mutating func request(
            _ method: HTTPMethod, _ path: String, family: RateLimitBudget.Family, headers extra: HTTPHeaders = [:],
            body: [UInt8]? = nil
        ) async -> (verdict: APIVerdict, reply: HTTPReply?)? {
            var headers = HTTPHeaders()
            headers.add(name: "Authorization", value: "Bearer \(token)")
            headers.add(name: "Accept", value: "application/json")
            headers.add(contentsOf: extra)
            let step = "\(method.rawValue) \(path.hasPrefix("/api/v1/statuses/") ? "/api/v1/statuses/:id" : path)"
            switch await fetcher.fetch(
                method, base + path, headers: headers, body: body, timeout: timeout, maxBodyBytes: maxBodyBytes)
            {
            case .success(let reply):
                budget.record(reply, family: family)
                let verdict = APIVerdict.classify(reply, now: now)
                verdicts.append((step, verdict))
                metrics["\(metricName(method, path)).status"] = Double(reply.status)
                metrics["\(metricName(method, path)).latency_ms"] = (reply.milliseconds * 10).rounded() / 10
                return (verdict, reply)
            case .failure(let failure):
                let verdict = APIVerdict.classify(failure)
                verdicts.append((step, verdict))
                return (verdict, nil)
            }
        }

        func metricName(_ method: HTTPMethod, _ path: String) -> String {
            switch (method, path) {
            case (.GET, _): "verify_credentials"
            case (.POST, _): "post"
            default: "delete"
            }
        }

        /// Posts a direct status (visible to the canary account alone) and deletes it.
        mutating func post() async {
            let key = memory.strings["post.idempotency_key"] ?? UUID().uuidString
            memory.strings["post.idempotency_key"] = key
            var headers = HTTPHeaders()
            headers.add(name: "Idempotency-Key", value: key)
            headers.add(name: "Content-Type", value: "application/json")
            let body = Self.postBody(status: "Herd API probe \(WireTime.format(now)) — deleted automatically")
            memory.numbers["post.last_at"] = nowSeconds
            guard
                let answer = await request(
                    .POST, "/api/v1/statuses", family: .statuses, headers: headers, body: body)
            else { return }
            if answer.verdict.action == .ok, let reply = answer.reply {
                memory.strings["post.idempotency_key"] = nil
                guard let id = Self.statusID(reply.body) else {
                    notes.append("the post's answer carries no status id; nothing to delete")
                    return
                }
                memory.strings["post.delete_id"] = id
                await delete(id)
            } else if !answer.verdict.retrySafe {
                // Refused for good (input, token, account): a new key next time.
                memory.strings["post.idempotency_key"] = nil
            } else {
                // The post may exist (a 504 can hide a success): retry with the same key next cycle.
                memory.numbers["post.last_at"] = nil
            }
        }

        mutating func delete(_ id: String) async {
            guard Self.isStatusID(id) else {
                memory.strings["post.delete_id"] = nil
                return
            }
            guard let answer = await request(.DELETE, "/api/v1/statuses/\(id)", family: .api) else { return }
            // Deleted, or already gone: either way nothing is left behind.
            if answer.verdict.action == .ok || answer.reply?.status == 404 {
                memory.strings["post.delete_id"] = nil
            }
        }

        /// Mastodon's `POST /api/v1/statuses` body: a direct status, seen by the canary account alone.
        struct Post: Encodable {
            var status: String
            var visibility = "direct"
        }

        static func postBody(status: String) -> [UInt8] {
            // Two strings cannot fail to encode.
            (try? JSONCodable.encode(Post(status: status))) ?? []
        }

        static func isStatusID(_ id: String) -> Bool {
            !id.isEmpty && id.utf8.count <= 24 && id.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }

        /// The `id` of a status answer (a string of digits in Mastodon's JSON).
        static func statusID(_ body: [UInt8]) -> String? {
            var reader = JSONReader(body)
            var id: String?
            do throws(WireError) {
                try reader.readObject { r, key throws(WireError) in
                    if key == "id" { id = try r.readString() } else { try r.skipValue() }
                }
            } catch {
                return nil
            }
            return id.flatMap { isStatusID($0) ? $0 : nil }
        }

        func paused(until: Double) -> CheckOutcome {
            var memory = memory
            budget.write(to: &memory)
            let previous =
                memory.numbers["last.status"].flatMap { n in CheckStatus.allCases.first { Double($0.severity) == n } }
                ?? .ok
            let remaining = budget.lowestRemaining(now: nowSeconds).map { " (\($0) requests left)" } ?? ""
            return CheckOutcome(
                previous,
                "probe paused until \(WireTime.format(Date(timeIntervalSince1970: until))) to stay within the rate limit\(remaining)",
                metrics: ["paused": 1], memory: memory)
        }

        func finish() -> CheckOutcome {
            var memory = memory
            budget.write(to: &memory)
            let worst = verdicts.max { $0.verdict.action < $1.verdict.action }
            var metrics = metrics
            if let remaining = budget.lowestRemaining(now: nowSeconds) {
                metrics["ratelimit.remaining"] = Double(remaining)
            }
            guard let worst, worst.verdict.action != .ok else {
                memory.numbers["last.status"] = Double(CheckStatus.ok.severity)
                let steps = verdicts.map { "\($0.step) \($0.verdict.status.map(String.init) ?? "-")" }
                return CheckOutcome(
                    .ok, (steps + notes).joined(separator: ", "), metrics: metrics, memory: memory)
            }
            let verdict = worst.verdict
            metrics["retry_safe"] = verdict.retrySafe ? 1 : 0
            if let wait = verdict.retryAfter { metrics["retry_after_s"] = wait.rounded(.up) }
            let status: CheckStatus =
                switch verdict.action {
                case .ok: .ok
                // The token or the canary account is at fault; the instance answered.
                case .reconnect, .fixInput: .warning
                case .retryLater: verdict.reason == "rate_limited" ? .warning : .critical
                case .serverError: .critical
                }
            memory.numbers["last.status"] = Double(status.severity)
            let advice =
                switch verdict.action {
                case .ok: ""
                case .reconnect: "reconnect: issue the canary a new token"
                case .fixInput: "fix the input or the canary account; do not retry"
                case .retryLater:
                    verdict.retryAfter.map { "retry after \(Int($0.rounded(.up))) s" } ?? "retry later with backoff"
                case .serverError:
                    verdict.retrySafe
                        ? "server error; retry with the same Idempotency-Key" : "server error; do not retry blindly"
                }
            let summary =
                "\(worst.step): \(verdict) — \(advice), retry_safe=\(verdict.retrySafe)"
                + (notes.isEmpty ? "" : "; " + notes.joined(separator: "; "))
            let finding = Finding(
                category: FindingCategory("api_" + verdict.action.rawValue),
                signature: "API probe \(verdict.action.rawValue): \(verdict.reason)", count: 1,
                sample: String("\(worst.step): \(verdict)".prefix(Limits.maxShortTextBytes)))
            return CheckOutcome(status, summary, metrics: metrics, findings: [finding], memory: memory)
        }
    }
}
