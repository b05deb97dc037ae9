/// The freshness rules for agent messages: `sent_at` within a skew window of the receiver's clock, and a
/// sequence strictly newer than the last accepted one. Gaps are allowed (an outbox may drop under its bound).
public struct ReplayPolicy: Sendable, Hashable {
    public enum Decision: Sendable, Hashable {
        /// Newer than anything accepted: store it.
        case new
        /// The same sequence as the last accepted message: acknowledge again, store nothing.
        case retryOfLastAccepted
    }

    /// How far `sent_at` may be from the receiver's clock, either way.
    public var maxClockSkew: Duration

    public init(maxClockSkew: Duration = .seconds(300)) {
        self.maxClockSkew = maxClockSkew
    }

    public func check(sequence: UInt64, sentAt: Date, lastAccepted: UInt64?, now: Date) throws(WireError) -> Decision {
        let skew = sentAt.timeIntervalSince(now)
        let window = Double(maxClockSkew.components.seconds) + Double(maxClockSkew.components.attoseconds) * 1e-18
        guard abs(skew) <= window else {
            throw WireError(
                .clockSkew,
                "sent_at is \(Int(skew.rounded())) s from the receiver's clock (window ±\(Int(window)) s)",
                serverTime: now)
        }
        guard let lastAccepted else { return .new }
        if sequence > lastAccepted { return .new }
        if sequence == lastAccepted { return .retryOfLastAccepted }
        throw WireError(
            .replayedSequence, "sequence \(sequence) is older than the last accepted \(lastAccepted)",
            lastAcceptedSequence: lastAccepted)
    }
}
