/// One DSSE signature: the signer's key id and 64 bytes of Ed25519 signature (base64 on the wire).
public struct EnvelopeSignature: Codable, Sendable, Hashable {
    public var keyID: KeyID
    public var signature: [UInt8]

    public init(keyID: KeyID, signature: [UInt8]) {
        self.keyID = keyID
        self.signature = signature
    }

    enum CodingKeys: String, CodingKey {
        case keyID = "keyid"
        case signature = "sig"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keyID = try c.decode(KeyID.self, forKey: .keyID)
        let text = try c.decode(String.self, forKey: .signature)
        guard let bytes = Base64.decode(text) else {
            throw DecodingError.dataCorruptedError(forKey: .signature, in: c, debugDescription: "not base64")
        }
        signature = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(keyID, forKey: .keyID)
        try c.encode(Base64.encode(signature), forKey: .signature)
    }

    func validate(at path: String) throws(WireError) {
        try keyID.validate(at: "\(path).keyid")
        guard signature.count == 64 else { throw .invalid("\(path).sig", "must be 64 bytes of Ed25519 signature") }
    }
}
