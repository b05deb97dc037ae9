import Crypto
import Foundation
import HerdProtocol
import X509

/// What a simulated agent makes to enrol, as `herd-agent enroll` does: an Ed25519 signing key, a P-256
/// TLS key and its CSR, and the signed enrollment request for `token`.
public struct SimulatedEnrollment: Sendable {
    public let signer: MessageSigner
    public let tlsKey: P256.Signing.PrivateKey
    /// The sealed `EnrollRequest`, the body of `POST /v1/enroll`.
    public let body: [UInt8]

    public init(instance: String, token: String, hostname: String) throws {
        let signing = Curve25519.Signing.PrivateKey()
        tlsKey = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(instance) }, privateKey: .init(tlsKey),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        signer = MessageSigner(privateKey: signing)
        let request = EnrollRequest(
            token: token, instance: instance, agentVersion: HerdVersion.current,
            signingPublicKey: Base64.encode(signing.publicKey.rawRepresentation),
            csrPEM: try csr.serializeAsPEM().pemString, host: HostFacts(hostname: hostname), sentAt: Date())
        body = WireCoding.encode(try signer.seal(request, as: .enrollRequest))
    }
}
