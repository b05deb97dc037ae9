import Crypto

/// An operator's identity on their own machine, in herdctl's directory: the Ed25519 key that signs
/// approvals, the P-256 TLS key and its certificate from the fleet CA, the CA itself (pinned), and a
/// `config` naming the controller. Private keys are created 0600 there and never leave it; the
/// controller only ever sees the public halves.
public struct OperatorIdentity: Sendable {
    public var directory: String
    public var name: String
    public var controller: String
    public var signingKey: Curve25519.Signing.PrivateKey
    public var tlsKey: P256.Signing.PrivateKey

    public var configFile: String { directory + "/config" }
    public var caFile: String { directory + "/ca.pem" }
    public var certificateFile: String { directory + "/certificate.pem" }
    public var tlsKeyFile: String { directory + "/tls-key.pem" }
    public var signingKeyFile: String { directory + "/signing-key.pem" }

    public var signingPublicKey: Curve25519.Signing.PublicKey { signingKey.publicKey }
    public var tlsPublicKey: P256.Signing.PublicKey { tlsKey.publicKey }

    /// New keys and a config in `directory` (created 0700). Refuses to replace an identity there.
    public static func create(in directory: String, name: String, controller: String, caCertificatePEM: String)
        throws(SecureFileError) -> OperatorIdentity
    {
        try SecureFile.makeDirectory(directory)
        let identity = OperatorIdentity(
            directory: directory, name: name, controller: controller, signingKey: Curve25519.Signing.PrivateKey(),
            tlsKey: P256.Signing.PrivateKey())
        for file in [identity.configFile, identity.signingKeyFile, identity.tlsKeyFile] where SecureFile.exists(file) {
            throw SecureFileError(file, "an operator identity exists here already; refusing to replace it")
        }
        try SecureFile.write(SigningKeyPEM.encode(identity.signingKey), to: identity.signingKeyFile, replace: false)
        try SecureFile.write(identity.tlsKey.pemRepresentation, to: identity.tlsKeyFile, replace: false)
        try SecureFile.write(caCertificatePEM, to: identity.caFile, mode: 0o644)
        let config = """
            # herdctl: this operator's identity. The keys below never leave this machine.
            controller = \(controller)
            operator = \(name)
            ca = \(identity.caFile)
            certificate = \(identity.certificateFile)
            tls_key = \(identity.tlsKeyFile)
            signing_key = \(identity.signingKeyFile)

            """
        try SecureFile.write(config, to: identity.configFile, mode: 0o600, replace: false)
        return identity
    }

    /// Stores the certificate the fleet CA issued for the TLS key.
    public func installCertificate(_ pem: String) throws(SecureFileError) {
        try SecureFile.write(pem, to: certificateFile, mode: 0o644)
    }
}
