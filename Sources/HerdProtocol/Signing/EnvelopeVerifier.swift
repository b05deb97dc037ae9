import Crypto

/// Checks DSSE signatures over the exact payload bytes received. Signatures by keys the verifier does not
/// know are ignored (as DSSE prescribes); each trusted key counts once however often it signed.
public enum EnvelopeVerifier {
    /// The distinct trusted keys that produced a valid signature, in the envelope's order.
    public static func validSigners(
        of envelope: SignedEnvelope, trusted: [KeyID: Curve25519.Signing.PublicKey]
    ) -> [KeyID] {
        let message = envelope.preAuthenticationEncoding
        var valid: [KeyID] = []
        for entry in envelope.signatures where !valid.contains(entry.keyID) {
            guard let key = trusted[entry.keyID], key.isValidSignature(entry.signature, for: message) else {
                continue
            }
            valid.append(entry.keyID)
        }
        return valid
    }

    /// Requires the expected payload type and a valid signature from `key`.
    public static func verify(
        _ envelope: SignedEnvelope, as payloadType: PayloadType, signedBy key: Curve25519.Signing.PublicKey
    ) throws(WireError) {
        try requireType(envelope, payloadType)
        let keyID = KeyID(publicKey: key)
        guard !validSigners(of: envelope, trusted: [keyID: key]).isEmpty else {
            throw WireError(.badSignature, "no valid signature by key \(keyID.short)")
        }
    }

    /// Requires the expected payload type and valid signatures from at least `threshold` distinct trusted
    /// keys, not counting the keys in `excluding` (e.g. the requester's own key). Returns the keys that count.
    public static func verify(
        _ envelope: SignedEnvelope, as payloadType: PayloadType, trusted: [KeyID: Curve25519.Signing.PublicKey],
        threshold: Int, excluding: Set<KeyID> = []
    ) throws(WireError) -> [KeyID] {
        try requireType(envelope, payloadType)
        let counted = validSigners(of: envelope, trusted: trusted).filter { !excluding.contains($0) }
        guard counted.count >= max(threshold, 1) else {
            throw WireError(
                .badSignature, "\(counted.count) valid signature(s) from trusted keys, \(max(threshold, 1)) required")
        }
        return counted
    }

    static func requireType(_ envelope: SignedEnvelope, _ payloadType: PayloadType) throws(WireError) {
        guard envelope.payloadType == payloadType else {
            throw WireError(
                .unsupportedVersion, "payloadType '\(envelope.payloadType)' where '\(payloadType)' was expected")
        }
    }
}
