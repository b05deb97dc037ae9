/// One cycle of check results from one agent: the message an agent sends most.
///
/// Signed as `application/vnd.herd.report.v1+json`. `sequence` is the agent's monotonic counter shared
/// with `CommandResult`; `sent_at` is set (and the envelope re-signed) on every delivery attempt, while
/// `collected_at` says when the checks ran.
public struct Report: AgentMessage, Hashable {
    public static let payloadType = PayloadType.report

    public var agentID: String
    public var instance: String
    public var sequence: UInt64
    public var collectedAt: Date
    public var sentAt: Date
    public var agentVersion: String
    /// The agent's cycle interval, so the controller knows when silence means trouble.
    public var intervalSeconds: UInt32
    public var host: HostFacts
    public var results: [CheckResult]
    /// Reports the outbox dropped (oldest first) because it hit its bound; absent means none.
    public var outboxDropped: UInt64?

    public init(
        agentID: String, instance: String, sequence: UInt64, collectedAt: Date, sentAt: Date,
        agentVersion: String, intervalSeconds: UInt32, host: HostFacts, results: [CheckResult],
        outboxDropped: UInt64? = nil
    ) {
        self.agentID = agentID
        self.instance = instance
        self.sequence = sequence
        self.collectedAt = collectedAt
        self.sentAt = sentAt
        self.agentVersion = agentVersion
        self.intervalSeconds = intervalSeconds
        self.host = host
        self.results = results
        self.outboxDropped = outboxDropped
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", instance, sequence, collectedAt = "collected_at", sentAt = "sent_at"
        case agentVersion = "agent_version", intervalSeconds = "interval_seconds", host, results
        case outboxDropped = "outbox_dropped"
    }

    public func validate() throws(WireError) {
        try Rule.identifier(agentID, "agent_id")
        try Rule.domain(instance, "instance")
        try Rule.sequence(sequence, "sequence")
        try Rule.line(agentVersion, "agent_version", maxBytes: Limits.maxShortTextBytes)
        guard (1...86_400).contains(intervalSeconds) else {
            throw .invalid("interval_seconds", "must be between 1 and 86400")
        }
        try host.validate(at: "host")
        try Rule.count(results.count, "results", max: Limits.maxCheckResults)
        var seen = Set<String>()
        for (index, result) in results.enumerated() {
            try result.validate(at: "results[\(index)]")
            guard seen.insert(result.checkID).inserted else {
                throw .invalid("results[\(index)].check_id", "'\(result.checkID)' appears twice")
            }
        }
        if let outboxDropped, outboxDropped > Limits.maxSequence {
            throw .invalid("outbox_dropped", "must be at most 2^53-1")
        }
    }
}
