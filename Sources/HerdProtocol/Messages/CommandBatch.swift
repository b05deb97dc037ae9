/// The answer to an agent's command long-poll: the operator-signed command envelopes waiting for it
/// (possibly none, when the poll timed out).
public struct CommandBatch: WireMessage, Hashable {
    public var commands: [SignedEnvelope]

    public init(commands: [SignedEnvelope]) { self.commands = commands }

    public init(json r: inout JSONReader) throws(WireError) {
        var commands: [SignedEnvelope]?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "commands":
                commands = try r.readArray(of: SignedEnvelope.self, maxCount: Limits.maxCommandsPerResponse)
            default: try r.skipValue()
            }
        }
        self.init(commands: try r.required(commands, "commands"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in w.field("commands", commands) }
    }

    public func validate() throws(WireError) {
        try Rule.count(commands.count, "commands", max: Limits.maxCommandsPerResponse)
        for (index, envelope) in commands.enumerated() {
            try envelope.validate(at: "commands[\(index)]")
        }
    }
}
