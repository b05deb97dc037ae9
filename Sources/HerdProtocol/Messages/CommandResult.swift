/// What an agent did with a command: executed (with exit code and output tail), failed, timed out,
/// or refused (with the reason). Travels through the outbox like a report and shares its sequence.
public struct CommandResult: AgentMessage, Hashable {
    public static let payloadType = PayloadType.commandResult

    public enum Outcome: String, Codable, Sendable, Hashable, CaseIterable {
        /// Ran and exited 0.
        case succeeded
        /// Ran and exited non-zero (or was killed by a signal).
        case failed
        /// Ran past its timeout and was killed.
        case timedOut = "timed_out"
        /// Never ran; `refusal` says which rule stopped it.
        case refused
    }

    /// Why an agent refused a command. Open: a newer agent may add reasons, kept as they are.
    public struct Refusal: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let wrongAgent = Self("wrong_agent")
        public static let expired = Self("expired")
        public static let replayed = Self("replayed")
        public static let notAllowed = Self("not_allowed")
        public static let insufficientApprovals = Self("insufficient_approvals")
        public static let rateLimited = Self("rate_limited")
        public static let malformed = Self("malformed")
    }

    public var commandID: String
    public var agentID: String
    public var instance: String
    public var sequence: UInt64
    public var sentAt: Date
    public var outcome: Outcome
    public var refusal: Refusal?
    /// One line for humans: what ran, or which rule refused it.
    public var detail: String
    public var exitCode: Int32?
    /// The last bytes of combined stdout/stderr, redacted.
    public var outputTail: String?
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The checks re-run after the action, to show whether it helped.
    public var verification: [CheckResult]

    public init(
        commandID: String, agentID: String, instance: String, sequence: UInt64, sentAt: Date, outcome: Outcome,
        refusal: Refusal? = nil, detail: String, exitCode: Int32? = nil, outputTail: String? = nil,
        startedAt: Date? = nil, finishedAt: Date? = nil, verification: [CheckResult] = []
    ) {
        self.commandID = commandID
        self.agentID = agentID
        self.instance = instance
        self.sequence = sequence
        self.sentAt = sentAt
        self.outcome = outcome
        self.refusal = refusal
        self.detail = detail
        self.exitCode = exitCode
        self.outputTail = outputTail
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.verification = verification
    }

    enum CodingKeys: String, CodingKey {
        case commandID = "command_id", agentID = "agent_id", instance, sequence, sentAt = "sent_at", outcome, refusal
        case detail, exitCode = "exit_code", outputTail = "output_tail", startedAt = "started_at"
        case finishedAt = "finished_at", verification
    }

    public func validate() throws(WireError) {
        // Required when the outcome says so: missing, like any required field, is malformed.
        if outcome == .refused, refusal == nil { throw WireError(.malformed, "refusal: missing") }
        guard Command.isLowercaseUUID(commandID) else { throw .invalid("command_id", "must be a lowercase UUID") }
        try Rule.identifier(agentID, "agent_id")
        try Rule.domain(instance, "instance")
        try Rule.sequence(sequence, "sequence")
        guard (outcome == .refused) == (refusal != nil) else {
            throw .invalid("refusal", "only with outcome refused, and always with it")
        }
        if let refusal { try Rule.identifier(refusal.rawValue, "refusal") }
        try Rule.line(detail, "detail", maxBytes: Limits.maxReasonBytes)
        if let outputTail { try Rule.text(outputTail, "output_tail", maxBytes: Limits.maxOutputTailBytes) }
        if let startedAt, let finishedAt, finishedAt < startedAt {
            throw .invalid("finished_at", "must not be before started_at")
        }
        try Rule.count(verification.count, "verification", max: Limits.maxCheckResults)
        for (index, result) in verification.enumerated() {
            try result.validate(at: "verification[\(index)]")
        }
    }
}
