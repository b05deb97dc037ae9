import Crypto
import Foundation
import X509

/// A private CA for tests, issuing P-256 server certificates with any validity window — expired ones
/// and ones expiring tomorrow included, which `openssl req` cannot make.
public struct TestCertificateAuthority: Sendable {
    private let key: P256.Signing.PrivateKey
    private let certificate: Certificate
    private let name: DistinguishedName

    public init(commonName: String = "Herd Test CA") throws {
        key = P256.Signing.PrivateKey()
        name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-86_400), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(key))
    }

    public var certificatePEM: String {
        get throws { try certificate.serializeAsPEM().pemString }
    }

    /// A server certificate for the DNS `names` valid from `notBefore` to
    /// `notAfter`: (certificate PEM, private key PEM).
    public func issue(names: [String], notBefore: Date, notAfter: Date) throws -> (certificate: String, key: String) {
        let leafKey = P256.Signing.PrivateKey()
        let alternatives = names.map { GeneralName.dnsName($0) }
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(leafKey.publicKey), notValidBefore: notBefore,
            notValidAfter: notAfter, issuer: name, subject: try DistinguishedName { CommonName(names.first ?? "test") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(alternatives)
            },
            issuerPrivateKey: .init(key))
        return (try leaf.serializeAsPEM().pemString, leafKey.pemRepresentation)
    }

    /// Writes `cert.pem`/`key.pem` for a server valid for `days` from now (negative: expired that long
    /// ago), plus `ca.pem`, into `directory`; returns their paths.
    public func writeServer(names: [String], daysLeft days: Double, into directory: TemporaryDirectory) throws
        -> (certificate: String, key: String, ca: String)
    {
        let now = Date()
        let notAfter = now.addingTimeInterval(days * 86_400)
        let notBefore = min(now, notAfter).addingTimeInterval(-30 * 86_400)
        let issued = try issue(names: names, notBefore: notBefore, notAfter: notAfter)
        try directory.write("cert.pem", issued.certificate)
        try directory.write("key.pem", issued.key)
        try directory.write("ca.pem", try certificatePEM)
        return (directory.file("cert.pem"), directory.file("key.pem"), directory.file("ca.pem"))
    }
}
