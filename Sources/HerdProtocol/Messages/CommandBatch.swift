/// The answer to an agent's command long-poll: the operator-signed command envelopes waiting for it
/// (possibly none, when the poll timed out).
public struct CommandBatch: WireMessage, Hashable {
    public var commands: [SignedEnvelope]

    public init(commands: [SignedEnvelope]) { self.commands = commands }

    public func validate() throws(WireError) {
        try Rule.count(commands.count, "commands", max: Limits.maxCommandsPerResponse)
        for (index, envelope) in commands.enumerated() {
            try envelope.validate(at: "commands[\(index)]")
        }
    }
}
