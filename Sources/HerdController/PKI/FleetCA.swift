import Crypto
import Foundation
import HerdProtocol
import SwiftASN1
import X509

/// Why a certificate could not be issued or a CA loaded.
public struct PKIError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    /// The request is at fault (not a CSR, no proof of possession, a key type the fleet does not issue
    /// for), not the CA: the client hears it as a 4xx.
    public var refusesRequest: Bool
    public init(_ description: String, refusesRequest: Bool = false) {
        self.description = description
        self.refusesRequest = refusesRequest
    }
}

/// The fleet's private CA (ECDSA P-256): the controller's server certificate, agents' and operators'
/// TLS client certificates. Both sides pin it (Protocol/README.md §1). A client is known by the SHA-256
/// fingerprint of the certificate issued to it, recorded at issue — never by what its certificate says.
public struct FleetCA: Sendable {
    public let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    public static let validityDays = 3650
    public static let leafValidityDays = 825

    /// A new CA, valid ten years.
    public static func create(commonName: String = "Herd fleet CA", now: Date = Date()) throws -> FleetCA {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Herd")
            CommonName(commonName)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-300),
            notValidAfter: now.addingTimeInterval(Double(validityDays) * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key))
        return FleetCA(certificate: certificate, key: key)
    }

    public init(certificatePEM: String, keyPEM: String) throws(PKIError) {
        do {
            certificate = try Certificate(pemEncoded: certificatePEM)
            key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        } catch {
            throw PKIError("cannot read the CA: \(error)")
        }
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw PKIError("the CA key does not match the CA certificate")
        }
    }

    private init(certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.key = key
    }

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
    public var keyPEM: String { key.pemRepresentation }
    public var fingerprint: String { Self.fingerprint(certificate) }

    /// Lowercase hex SHA-256 of the DER encoding: how the agent pins the CA and how the controller
    /// recognises the certificates it issued.
    public static func fingerprint(_ certificate: Certificate) -> String {
        var serializer = DER.Serializer()
        try? serializer.serialize(certificate)
        return fingerprint(der: serializer.serializedBytes)
    }

    public static func fingerprint(der: some DataProtocol) -> String {
        Hex.lowercase(SHA256.hash(data: der))
    }

    /// The controller's server certificate for `names` (DNS names or IP addresses).
    public func issueServer(names: [String], publicKey: P256.Signing.PublicKey, now: Date = Date()) throws
        -> Certificate
    {
        let alternatives: [GeneralName] = names.map { name in
            if let address = Self.ipAddressBytes(name) {
                return .ipAddress(ASN1OctetString(contentBytes: address[...]))
            }
            return .dnsName(name)
        }
        return try issue(
            subject: try DistinguishedName {
                OrganizationName("Herd")
                CommonName(names.first ?? "herd-controller")
            },
            publicKey: .init(publicKey), usage: .serverAuth, alternatives: alternatives, now: now)
    }

    /// The CSR, when it is one this CA would sign: PEM PKCS #10, its own signature valid (proof of
    /// possession), an ECDSA P-256 key. Enrollment checks it before a token is spent, whenever the
    /// certificate is issued (at once, or when an operator accepts the agent).
    public static func checkCSR(_ csrPEM: String) throws(PKIError) -> CertificateSigningRequest {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(pemEncoded: csrPEM)
        } catch {
            throw PKIError("the CSR is not a PEM certificate signing request", refusesRequest: true)
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw PKIError(
                "the CSR's signature does not verify (no proof of possession of its key)", refusesRequest: true)
        }
        guard P256.Signing.PublicKey(csr.publicKey) != nil else {
            throw PKIError("client keys must be ECDSA P-256", refusesRequest: true)
        }
        return csr
    }

    /// A client certificate for the key a CSR proves possession of. The CSR's subject is ignored: the
    /// controller names the holder (`herd-agent:ID`, `herd-operator:NAME`) and records the fingerprint.
    public func issueClient(csrPEM: String, commonName: String, now: Date = Date()) throws(PKIError) -> Certificate {
        let csr = try Self.checkCSR(csrPEM)
        do {
            return try issue(
                subject: try DistinguishedName {
                    OrganizationName("Herd")
                    CommonName(commonName)
                }, publicKey: csr.publicKey, usage: .clientAuth, alternatives: [], now: now)
        } catch {
            throw PKIError("cannot issue the certificate: \(error)")
        }
    }

    /// A client certificate for a key made here (the first operator's, by `init`).
    public func issueClient(publicKey: P256.Signing.PublicKey, commonName: String, now: Date = Date()) throws
        -> Certificate
    {
        try issue(
            subject: try DistinguishedName {
                OrganizationName("Herd")
                CommonName(commonName)
            }, publicKey: .init(publicKey), usage: .clientAuth, alternatives: [], now: now)
    }

    private func issue(
        subject: DistinguishedName, publicKey: Certificate.PublicKey, usage: ExtendedKeyUsage.Usage,
        alternatives: [GeneralName], now: Date
    ) throws -> Certificate {
        let notAfter = min(
            now.addingTimeInterval(Double(Self.leafValidityDays) * 86_400), certificate.notValidAfter)
        return try Certificate(
            version: .v3, serialNumber: .init(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: notAfter, issuer: certificate.subject,
            subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([usage])
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: .init(key.publicKey)).keyIdentifier)
                if !alternatives.isEmpty { SubjectAlternativeNames(alternatives) }
            },
            issuerPrivateKey: .init(key))
    }

    static func ipAddressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }
}
