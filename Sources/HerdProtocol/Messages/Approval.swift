/// An operator's approval of a command: a DSSE signature over the command envelope's exact payload,
/// made on the operator's machine and posted to the controller, which adds it to the envelope.
public struct Approval: WireMessage, Hashable {
    public var commandID: String
    public var signature: EnvelopeSignature

    public init(commandID: String, signature: EnvelopeSignature) {
        self.commandID = commandID
        self.signature = signature
    }

    public init(json r: inout JSONReader) throws(WireError) {
        var commandID: String?, signature: EnvelopeSignature?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "command_id": commandID = try r.readString()
            case "signature": signature = try EnvelopeSignature(json: &r)
            default: try r.skipValue()
            }
        }
        self.init(commandID: try r.required(commandID, "command_id"), signature: try r.required(signature, "signature"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("command_id", commandID)
            w.field("signature", signature)
        }
    }

    public func validate() throws(WireError) {
        guard Command.isLowercaseUUID(commandID) else { throw .invalid("command_id", "must be a lowercase UUID") }
        try signature.validate(at: "signature")
    }
}
