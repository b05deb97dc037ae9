/// An operator's approval of a command: a DSSE signature over the command envelope's exact payload,
/// made on the operator's machine and posted to the controller, which adds it to the envelope.
public struct Approval: WireMessage, Hashable {
    public var commandID: String
    public var signature: EnvelopeSignature

    public init(commandID: String, signature: EnvelopeSignature) {
        self.commandID = commandID
        self.signature = signature
    }

    enum CodingKeys: String, CodingKey {
        case commandID = "command_id", signature
    }

    public func validate() throws(WireError) {
        guard Command.isLowercaseUUID(commandID) else { throw .invalid("command_id", "must be a lowercase UUID") }
        try signature.validate(at: "signature")
    }
}
