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

    /// The rule a host applies to a command (Protocol §5): a valid signature by the requester's key
    /// (`requested_by`, trusted here) **and** valid signatures by at least `approvals` distinct trusted
    /// keys other than the requester's (0 for a preview). Returns the approving keys, in envelope order.
    /// The agent's gate and the signing vectors both run this.
    public static func verifyCommand(
        _ envelope: SignedEnvelope, requester: KeyID, trusted: [KeyID: Curve25519.Signing.PublicKey],
        approvals: Int
    ) throws(WireError) -> [KeyID] {
        try requireType(envelope, .command)
        let signers = validSigners(of: envelope, trusted: trusted)
        guard signers.contains(requester) else {
            throw WireError(.badSignature, "no valid signature by the requester's key in this host's trust file")
        }
        let approvers = signers.filter { $0 != requester }
        guard approvers.count >= approvals else {
            throw WireError(
                .badSignature,
                "\(approvers.count) approval(s) by trusted keys other than the requester's; \(approvals) required")
        }
        return approvers
    }

    static func requireType(_ envelope: SignedEnvelope, _ payloadType: PayloadType) throws(WireError) {
        guard envelope.payloadType == payloadType else {
            throw WireError(
                .unsupportedVersion, "payloadType '\(envelope.payloadType)' where '\(payloadType)' was expected")
        }
    }
}
