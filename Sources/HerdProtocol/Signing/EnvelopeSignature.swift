/// One DSSE signature: the signer's key id and 64 bytes of Ed25519 signature (base64 on the wire).
public struct EnvelopeSignature: WireMessage, Hashable {
    public var keyID: KeyID
    public var signature: [UInt8]

    public init(keyID: KeyID, signature: [UInt8]) {
        self.keyID = keyID
        self.signature = signature
    }

    enum CodingKeys: String, CodingKey {
        case keyID = "keyid", signature = "sig"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(keyID: try c.decode(KeyID.self, forKey: .keyID), signature: try c.decodeBase64(forKey: .signature))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(Base64.encode(signature), forKey: .signature)
    }

    public func validate() throws(WireError) {
        try validate(at: "signature")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        try keyID.validate(at: "\(path()).keyid")
        guard signature.count == 64 else { throw .invalid("\(path()).sig", "must be 64 bytes of Ed25519 signature") }
    }
}
