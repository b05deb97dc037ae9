import FoundationEssentials
import HerdProtocol

/// What a client should do about one Mastodon API answer, after the seed "Mastodon API errors and
/// troubleshooting": reconnect (the token is bad), fix the input (the request or the account is),
/// retry later (the server is temporarily unable, or the client is rate-limited), or treat it as a
/// server error. `retrySafe` follows the seed's rule — retry only temporary failures, never expired
/// tokens, missing permissions, invalid content, duplicates or account restrictions.
public struct APIVerdict: Sendable, Hashable, CustomStringConvertible {
    public enum Action: String, Sendable, Hashable, Comparable {
        case ok
        case reconnect
        case fixInput = "fix_input"
        case retryLater = "retry_later"
        case serverError = "server_error"

        private var rank: Int {
            switch self {
            case .ok: 0
            case .fixInput: 1
            case .reconnect: 2
            case .retryLater: 3
            case .serverError: 4
            }
        }

        public static func < (a: Action, b: Action) -> Bool { a.rank < b.rank }
    }

    public var action: Action
    /// A stable identifier for the cause: `invalid_token`, `account_disabled`, `rate_limited`,
    /// `proxy_502`, `rails_500`, `timeout`, …
    public var reason: String
    public var retrySafe: Bool
    /// The HTTP status, nil when no answer came.
    public var status: Int?
    /// Seconds until a retry makes sense (`X-RateLimit-Reset` of a 429).
    public var retryAfter: Double?
    /// What the server said (its `error` message, or the transport failure), for the summary.
    public var detail: String

    public var description: String {
        "\(action.rawValue) (\(status.map(String.init) ?? "no answer"): \(reason)"
            + (detail.isEmpty ? "" : " — \(detail)") + ")"
    }

    /// Classifies an answer; `now` dates a rate-limit reset.
    public static func classify(_ reply: HTTPReply, now: Date) -> APIVerdict {
        let status = reply.status
        let message = reply.errorMessage ?? ""
        func verdict(_ action: Action, _ reason: String, retrySafe: Bool, retryAfter: Double? = nil) -> APIVerdict {
            APIVerdict(
                action: action, reason: reason, retrySafe: retrySafe, status: status, retryAfter: retryAfter,
                detail: message.isEmpty ? proxyDetail(reply) : String(message.prefix(200)))
        }
        switch status {
        case 202:  // POST /api/v2/media: accepted, still processing
            return verdict(.ok, "processing", retrySafe: false)
        case 206:  // GET /api/v1/media/:id: not ready yet; poll again
            return verdict(.ok, "still_processing", retrySafe: false)
        case 200..<300:
            return verdict(.ok, "ok", retrySafe: false)
        case 401:
            let lower = message.lowercased()
            let reason =
                lower.contains("revoked")
                ? "token_revoked" : lower.contains("expired") ? "token_expired" : "invalid_token"
            return verdict(.reconnect, reason, retrySafe: false)
        case 400 where message == "invalid_grant":
            return verdict(.reconnect, "invalid_grant", retrySafe: false)
        case 403:
            return verdict(.fixInput, forbiddenReason(message), retrySafe: false)
        case 400, 404, 405, 406, 409, 410, 413, 415, 422:
            let reason =
                switch status {
                case 404: "not_found"
                case 422 where message.hasPrefix("Duplicate"): "duplicate"
                case 422: "validation_failed"
                case 413: "too_large"
                default: "bad_request"
                }
            return verdict(.fixInput, reason, retrySafe: false)
        case 429:
            let reset = reply.header("x-ratelimit-reset").flatMap(WireTime.parse)
            return verdict(
                .retryLater, "rate_limited", retrySafe: true,
                retryAfter: reset.map { max(0, $0.timeIntervalSince(now)) })
        case 503:
            let reason =
                message.hasPrefix("Remote data") || message.hasPrefix("Remote SSL")
                ? "remote_fetch_failed" : reply.isHTML ? "proxy_503" : "temporarily_unavailable"
            return verdict(.retryLater, reason, retrySafe: true)
        case 502, 504:
            // nginx answers these itself, as HTML (Mastodon's 500.html through error_page): puma is down or slow.
            let origin = reply.isJSON ? "upstream" : "proxy"
            return verdict(.serverError, "\(origin)_\(status)", retrySafe: true)
        case 500..<600:
            // An unhandled exception in Rails: the same request fails the same way; escalate, do not loop.
            let origin = reply.isJSON ? "rails" : reply.isHTML ? "proxy" : "server"
            return verdict(.serverError, "\(origin)_\(status)", retrySafe: false)
        default:
            return verdict(.fixInput, "unexpected_\(status)", retrySafe: false)
        }
    }

    /// No answer at all: temporary (retry with the same Idempotency-Key) unless TLS or the URL is wrong.
    public static func classify(_ failure: HTTPFetchError) -> APIVerdict {
        switch failure.kind {
        case .timeout, .refused, .connection, .socketMissing, .permissionDenied, .dns:
            APIVerdict(
                action: .retryLater, reason: failure.kind.rawValue, retrySafe: true, status: nil, retryAfter: nil,
                detail: failure.description)
        case .tls, .invalidURL:
            APIVerdict(
                action: .serverError, reason: failure.kind.rawValue, retrySafe: false, status: nil, retryAfter: nil,
                detail: failure.description)
        }
    }

    /// Which of Mastodon's 403s (Api::BaseController#require_user!, Doorkeeper's scope check,
    /// Mastodon::NotPermittedError) this is.
    static func forbiddenReason(_ message: String) -> String {
        if message.contains("currently disabled") { return "account_disabled" }
        if message.contains("confirmed e-mail") { return "account_unconfirmed" }
        if message.contains("pending approval") { return "account_pending_approval" }
        if message.contains("authorized scopes") { return "missing_scope" }
        if message.contains("not allowed") { return "not_permitted" }
        return "forbidden"
    }

    /// `502 from the proxy (HTML)` when there is no JSON message to quote.
    static func proxyDetail(_ reply: HTTPReply) -> String {
        guard reply.status >= 400 else { return "" }
        if reply.isHTML { return "HTML page from the proxy" }
        if reply.mediaType.isEmpty { return "no body type" }
        return reply.mediaType
    }
}
