/// One DSSE signature: the signer's key id and 64 bytes of Ed25519 signature (base64 on the wire).
public struct EnvelopeSignature: WireMessage, Hashable {
    public var keyID: KeyID
    public var signature: [UInt8]

    public init(keyID: KeyID, signature: [UInt8]) {
        self.keyID = keyID
        self.signature = signature
    }

    public init(json r: inout JSONReader) throws(WireError) {
        var keyID: String?, signature: [UInt8]?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "keyid": keyID = try r.readString()
            case "sig": signature = try r.readBase64()
            default: try r.skipValue()
            }
        }
        self.init(keyID: KeyID(rawValue: try r.required(keyID, "keyid")), signature: try r.required(signature, "sig"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("keyid", keyID.rawValue)
            w.field("sig", Base64.encode(signature))
        }
    }

    public func validate() throws(WireError) {
        try validate(at: "signature")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        try keyID.validate(at: "\(path()).keyid")
        guard signature.count == 64 else { throw .invalid("\(path()).sig", "must be 64 bytes of Ed25519 signature") }
    }
}
