import FoundationEssentials
import HerdProtocol

/// What Mastodon's `X-RateLimit-*` headers last said, per family of requests, carried across cycles in
/// the check's memory so the probe never spends the canary account's allowance to the last request:
/// it stops at `reserve` requests left and waits for `X-RateLimit-Reset` (an ISO 8601 time). Mastodon
/// reports the throttle that applies to the request: the general API one (1 500 per 5 minutes per
/// account, 300 per token) for reads and deletes, the statuses one (300 per 3 hours) for posts. Deletes
/// (30 per 30 minutes) report no header of their own; the probe's post interval keeps them far below.
struct RateLimitBudget: Sendable, Hashable {
    struct Window: Sendable, Hashable {
        var limit: Int
        var remaining: Int
        var resetAt: Double
    }

    enum Family: String, CaseIterable {
        case api
        case statuses
    }

    var windows: [Family: Window] = [:]

    init() {}

    init(memory: CheckMemory) {
        for family in Family.allCases {
            if let limit = memory.numbers["rate.\(family).limit"],
                let remaining = memory.numbers["rate.\(family).remaining"],
                let reset = memory.numbers["rate.\(family).reset_at"]
            {
                windows[family] = Window(limit: Int(limit), remaining: Int(remaining), resetAt: reset)
            }
        }
    }

    func write(to memory: inout CheckMemory) {
        for (family, window) in windows {
            memory.numbers["rate.\(family).limit"] = Double(window.limit)
            memory.numbers["rate.\(family).remaining"] = Double(window.remaining)
            memory.numbers["rate.\(family).reset_at"] = window.resetAt
        }
    }

    /// Takes the headers of an answer; an answer without them (a proxy error page) changes nothing.
    mutating func record(_ reply: HTTPReply, family: Family) {
        guard let limit = reply.header("x-ratelimit-limit").flatMap({ Int($0) }),
            let remaining = reply.header("x-ratelimit-remaining").flatMap({ Int($0) }),
            let reset = reply.header("x-ratelimit-reset").flatMap(WireTime.parse),
            limit >= 0, remaining >= 0
        else { return }
        windows[family] = Window(limit: limit, remaining: remaining, resetAt: reset.timeIntervalSince1970)
    }

    /// Nil when `cost` more requests keep at least `reserve` in hand (or the window has reset);
    /// otherwise the time to wait for.
    func wait(for family: Family, cost: Int, reserve: Int, now: Double) -> Double? {
        guard let window = windows[family], window.resetAt > now else { return nil }
        return window.remaining - cost < reserve ? window.resetAt : nil
    }

    /// The fewest requests left in any window still running.
    func lowestRemaining(now: Double) -> Int? {
        windows.values.filter { $0.resetAt > now }.map(\.remaining).min()
    }
}
