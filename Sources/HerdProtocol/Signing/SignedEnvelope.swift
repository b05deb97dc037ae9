/// A DSSE v1 envelope (github.com/secure-systems-lab/dsse): the exact payload bytes, their type, and
/// Ed25519 signatures over `PAE(payloadType, payload)`.
///
/// The field names are DSSE's own (`payloadType`, `keyid`, `sig`), the one place the wire is not
/// snake_case, so that any DSSE library can produce and check Herd envelopes. Nothing is re-encoded:
/// the verifier checks the bytes it received and only then decodes them.
public struct SignedEnvelope: WireMessage, Hashable {
    public var payload: [UInt8]
    public var payloadType: PayloadType
    public var signatures: [EnvelopeSignature]

    public init(payload: [UInt8], payloadType: PayloadType, signatures: [EnvelopeSignature]) {
        self.payload = payload
        self.payloadType = payloadType
        self.signatures = signatures
    }

    enum CodingKeys: String, CodingKey {
        case payload, payloadType, signatures
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            payload: try c.decodeBase64(forKey: .payload),
            payloadType: try c.decode(PayloadType.self, forKey: .payloadType),
            signatures: try c.decode([EnvelopeSignature].self, forKey: .signatures))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Base64.encode(payload), forKey: .payload)
        try c.encode(payloadType, forKey: .payloadType)
        try c.encode(signatures, forKey: .signatures)
    }

    /// The bytes that are signed: `"DSSEv1" SP LEN(type) SP type SP LEN(payload) SP payload`,
    /// lengths as ASCII decimal byte counts.
    public static func preAuthenticationEncoding(payloadType: PayloadType, payload: some Collection<UInt8>) -> [UInt8] {
        let type = Array(payloadType.rawValue.utf8)
        var out = [UInt8]()
        out.reserveCapacity(32 + type.count + payload.count)
        out.append(contentsOf: "DSSEv1 \(type.count) ".utf8)
        out.append(contentsOf: type)
        out.append(contentsOf: " \(payload.count) ".utf8)
        out.append(contentsOf: payload)
        return out
    }

    public var preAuthenticationEncoding: [UInt8] {
        Self.preAuthenticationEncoding(payloadType: payloadType, payload: payload)
    }

    public func validate() throws(WireError) {
        try validate(at: "envelope")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        guard !payload.isEmpty else { throw .invalid("\(path()).payload", "must not be empty") }
        guard payloadType.rawValue.utf8.count <= Limits.maxShortTextBytes else {
            throw .invalid("\(path()).payloadType", "longer than \(Limits.maxShortTextBytes) bytes")
        }
        guard !signatures.isEmpty, signatures.count <= Limits.maxSignaturesPerEnvelope else {
            throw .invalid("\(path()).signatures", "must hold 1 to \(Limits.maxSignaturesPerEnvelope) signatures")
        }
        for (index, signature) in signatures.enumerated() {
            try signature.validate(at: "\(path()).signatures[\(index)]")
        }
    }
}

extension KeyedDecodingContainer {
    /// Base64 (standard or URL-safe, as DSSE allows) decoded to bytes; anything else is `malformed`.
    func decodeBase64(forKey key: Key) throws -> [UInt8] {
        guard let bytes = Base64.decode(try decode(String.self, forKey: key)) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not base64")
        }
        return bytes
    }
}
