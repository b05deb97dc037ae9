import Crypto

/// Signs payloads with one Ed25519 key (an agent's or an operator's).
public struct MessageSigner: Sendable {
    public let keyID: KeyID
    public let publicKey: Curve25519.Signing.PublicKey
    private let privateKey: Curve25519.Signing.PrivateKey

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        self.privateKey = privateKey
        self.publicKey = privateKey.publicKey
        self.keyID = KeyID(publicKey: privateKey.publicKey)
    }

    /// A DSSE signature over `PAE(payloadType, payload)`.
    public func signature(payloadType: PayloadType, payload: some Collection<UInt8>) throws(WireError)
        -> EnvelopeSignature
    {
        let message = SignedEnvelope.preAuthenticationEncoding(payloadType: payloadType, payload: payload)
        do {
            return EnvelopeSignature(keyID: keyID, signature: Array(try privateKey.signature(for: message)))
        } catch {
            throw WireError(.internalError, "signing failed")
        }
    }

    /// Validates, encodes and signs a message: the envelope's payload is exactly the bytes signed.
    public func seal<M: WireMessage>(_ message: M, as payloadType: PayloadType) throws(WireError) -> SignedEnvelope {
        try message.validate()
        let payload = WireCoding.encode(message)
        return SignedEnvelope(
            payload: payload, payloadType: payloadType,
            signatures: [try signature(payloadType: payloadType, payload: payload)])
    }
}
