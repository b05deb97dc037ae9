/// What an agent did with a command: executed (with exit code and output tail), failed, timed out,
/// or refused (with the reason). Travels through the outbox like a report and shares its sequence.
public struct CommandResult: AgentMessage, Hashable {
    public static let payloadType = PayloadType.commandResult

    public enum Outcome: String, Sendable, Hashable, CaseIterable {
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
    public struct Refusal: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
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

    public init(json r: inout JSONReader) throws(WireError) {
        var commandID: String?, agentID: String?, instance: String?, sequence: UInt64?, sentAt: Date?
        var outcome: Outcome?, refusal: String?, detail: String?, exitCode: Int32?, outputTail: String?
        var startedAt: Date?, finishedAt: Date?, verification: [CheckResult]?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "command_id": commandID = try r.readString()
            case "agent_id": agentID = try r.readString()
            case "instance": instance = try r.readString()
            case "sequence": sequence = try r.readInteger(UInt64.self, in: 1...Limits.maxSequence)
            case "sent_at": sentAt = try r.readDate()
            case "outcome": outcome = try r.readEnum(Outcome.self)
            case "refusal": refusal = try r.readNull() ? nil : r.readString()
            case "detail": detail = try r.readString()
            case "exit_code": exitCode = try r.readNull() ? nil : r.readInteger(Int32.self, in: Int32.min...Int32.max)
            case "output_tail": outputTail = try r.readNull() ? nil : r.readString()
            case "started_at": startedAt = try r.readNull() ? nil : r.readDate()
            case "finished_at": finishedAt = try r.readNull() ? nil : r.readDate()
            case "verification": verification = try r.readArray(of: CheckResult.self, maxCount: Limits.maxCheckResults)
            default: try r.skipValue()
            }
        }
        // Required when the outcome says so: missing, like any required field, is malformed.
        if outcome == .refused { _ = try r.required(refusal, "refusal") }
        self.init(
            commandID: try r.required(commandID, "command_id"), agentID: try r.required(agentID, "agent_id"),
            instance: try r.required(instance, "instance"), sequence: try r.required(sequence, "sequence"),
            sentAt: try r.required(sentAt, "sent_at"), outcome: try r.required(outcome, "outcome"),
            refusal: refusal.map(Refusal.init(rawValue:)), detail: try r.required(detail, "detail"), exitCode: exitCode,
            outputTail: outputTail, startedAt: startedAt, finishedAt: finishedAt,
            verification: try r.required(verification, "verification"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("agent_id", agentID)
            w.field("command_id", commandID)
            w.field("detail", detail)
            w.field("exit_code", exitCode)
            w.field("finished_at", finishedAt)
            w.field("instance", instance)
            w.field("outcome", outcome.rawValue)
            w.field("output_tail", outputTail)
            w.field("refusal", refusal?.rawValue)
            w.field("sent_at", sentAt)
            w.field("sequence", sequence)
            w.field("started_at", startedAt)
            w.field("verification", verification)
        }
    }

    public func validate() throws(WireError) {
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
