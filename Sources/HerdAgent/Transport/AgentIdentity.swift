import Crypto
import FoundationEssentials
import HerdProtocol
import X509

/// The agent's identity in `STATE_DIR/identity/` (0700): its Ed25519 signing key and P-256 TLS key
/// (0600, made here, never sent anywhere), the certificate the controller issued, the pinned fleet CA,
/// and `enrollment.conf` (controller URL, agent id, instance, state).
public struct AgentIdentityFiles: Sendable {
    public var directory: String

    public init(stateDirectory: String) { directory = stateDirectory + "/identity" }

    public var signingKeyFile: String { directory + "/signing-key.pem" }
    public var tlsKeyFile: String { directory + "/tls-key.pem" }
    public var certificateFile: String { directory + "/certificate.pem" }
    public var caFile: String { directory + "/ca.pem" }
    public var enrollmentFile: String { directory + "/enrollment.conf" }

    /// The keys, created on first use (an enrollment that is retried reuses them).
    func keys() throws(SecureFileError) -> (signing: Curve25519.Signing.PrivateKey, tls: P256.Signing.PrivateKey) {
        try SecureFile.makeDirectory(directory)
        let signing =
            SecureFile.exists(signingKeyFile)
            ? try SigningKeyPEM.load(from: signingKeyFile) : try SigningKeyPEM.create(at: signingKeyFile)
        let tls: P256.Signing.PrivateKey
        if SecureFile.exists(tlsKeyFile) {
            let text = try SecureFile.readText(tlsKeyFile, maxBytes: 16 << 10, private: true)
            guard let key = try? P256.Signing.PrivateKey(pemRepresentation: text) else {
                throw SecureFileError(tlsKeyFile, "not a P-256 private key in PEM")
            }
            tls = key
        } else {
            tls = P256.Signing.PrivateKey()
            try SecureFile.write(tls.pemRepresentation, to: tlsKeyFile, mode: 0o600, replace: false)
        }
        return (signing, tls)
    }
}

/// What `enrollment.conf` records.
public struct Enrollment: Sendable, Hashable {
    public var controller: String
    public var agentID: String
    public var instance: String
    /// `accepted` or `pending`.
    public var state: String
    /// The role it enrolled with (fixed at enrollment; `all` for identities written before roles).
    public var role: AgentRole = .all

    public func render() -> String {
        """
        # Written by herd-agent enroll.
        controller = \(controller)
        agent_id = \(agentID)
        instance = \(instance)
        state = \(state)
        role = \(role.rawValue)

        """
    }

    public static func load(_ files: AgentIdentityFiles) throws -> Enrollment {
        let text = try SecureFile.readText(files.enrollmentFile, maxBytes: 64 << 10)
        var values: [String: String] = [:]
        do {
            for entry in try KeyValueFile.parse(text) { values[entry.key] = entry.value }
        } catch {
            throw SecureFileError(files.enrollmentFile, "line \(error.line): \(error.problem)")
        }
        guard let controller = values["controller"], let agentID = values["agent_id"],
            let instance = values["instance"],
            let state = values["state"], Rule.isIdentifier(agentID),
            let role = AgentRole(rawValue: values["role"] ?? AgentRole.all.rawValue)
        else { throw SecureFileError(files.enrollmentFile, "incomplete; run herd-agent enroll again") }
        return Enrollment(controller: controller, agentID: agentID, instance: instance, state: state, role: role)
    }
}

extension P256.Signing.PrivateKey {
    /// A CSR proving possession of this key. The controller names the holder itself.
    func certificateSigningRequest(instance: String) throws -> String {
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(instance) }, privateKey: .init(self),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        return try csr.serializeAsPEM().pemString
    }
}
