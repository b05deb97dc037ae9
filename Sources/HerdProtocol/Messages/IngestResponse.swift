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

    public init(json r: inout JSONReader) throws(WireError) {
        var sequence: UInt64?, duplicate: Bool?, commands: [SignedEnvelope]?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "acknowledged_sequence": sequence = try r.readInteger(UInt64.self, in: 1...Limits.maxSequence)
            case "duplicate": duplicate = try r.readBool()
            case "commands":
                commands = try r.readArray(of: SignedEnvelope.self, maxCount: Limits.maxCommandsPerResponse)
            default: try r.skipValue()
            }
        }
        self.init(
            acknowledgedSequence: try r.required(sequence, "acknowledged_sequence"),
            duplicate: try r.required(duplicate, "duplicate"), commands: try r.required(commands, "commands"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("acknowledged_sequence", acknowledgedSequence)
            w.field("commands", commands)
            w.field("duplicate", duplicate)
        }
    }

    public func validate() throws(WireError) {
        try Rule.sequence(acknowledgedSequence, "acknowledged_sequence")
        try Rule.count(commands.count, "commands", max: Limits.maxCommandsPerResponse)
        for (index, envelope) in commands.enumerated() {
            try envelope.validate(at: "commands[\(index)]")
        }
    }
}
