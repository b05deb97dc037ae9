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

    public init(json r: inout JSONReader) throws(WireError) {
        var agentID: String?, instance: String?, sequence: UInt64?, collectedAt: Date?, sentAt: Date?
        var agentVersion: String?, interval: UInt32?, host: HostFacts?, results: [CheckResult]?, dropped: UInt64?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "agent_id": agentID = try r.readString()
            case "instance": instance = try r.readString()
            case "sequence": sequence = try r.readInteger(UInt64.self, in: 1...Limits.maxSequence)
            case "collected_at": collectedAt = try r.readDate()
            case "sent_at": sentAt = try r.readDate()
            case "agent_version": agentVersion = try r.readString()
            case "interval_seconds": interval = try r.readInteger(UInt32.self, in: 1...86_400)
            case "host": host = try HostFacts(json: &r)
            case "results": results = try r.readArray(of: CheckResult.self, maxCount: Limits.maxCheckResults)
            case "outbox_dropped":
                dropped = try r.readNull() ? nil : r.readInteger(UInt64.self, in: 0...Limits.maxSequence)
            default: try r.skipValue()
            }
        }
        self.init(
            agentID: try r.required(agentID, "agent_id"), instance: try r.required(instance, "instance"),
            sequence: try r.required(sequence, "sequence"), collectedAt: try r.required(collectedAt, "collected_at"),
            sentAt: try r.required(sentAt, "sent_at"), agentVersion: try r.required(agentVersion, "agent_version"),
            intervalSeconds: try r.required(interval, "interval_seconds"), host: try r.required(host, "host"),
            results: try r.required(results, "results"), outboxDropped: dropped)
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("agent_id", agentID)
            w.field("agent_version", agentVersion)
            w.field("collected_at", collectedAt)
            w.field("host", host)
            w.field("instance", instance)
            w.field("interval_seconds", intervalSeconds)
            w.field("outbox_dropped", outboxDropped)
            w.field("results", results)
            w.field("sent_at", sentAt)
            w.field("sequence", sequence)
        }
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
