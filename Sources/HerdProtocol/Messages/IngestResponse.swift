/// The controller's acknowledgement of a report or command result: the agent may delete the message
/// with this sequence from its outbox. Pending commands for the agent ride back on the same response.
public struct IngestResponse: WireMessage, Hashable {
    public var acknowledgedSequence: UInt64
    /// True when this sequence had already been stored: the retry was acknowledged, not stored twice.
    public var duplicate: Bool
    /// Operator-signed command envelopes waiting for this agent.
    public var commands: [SignedEnvelope]

    public init(acknowledgedSequence: UInt64, duplicate: Bool, commands: [SignedEnvelope] = []) {
        self.acknowledgedSequence = acknowledgedSequence
        self.duplicate = duplicate
        self.commands = commands
    }

    enum CodingKeys: String, CodingKey {
        case acknowledgedSequence = "acknowledged_sequence", duplicate, commands
    }

    public func validate() throws(WireError) {
        try Rule.sequence(acknowledgedSequence, "acknowledged_sequence")
        try Rule.count(commands.count, "commands", max: Limits.maxCommandsPerResponse)
        for (index, envelope) in commands.enumerated() {
            try envelope.validate(at: "commands[\(index)]")
        }
    }
}
