import Crypto

/// Ed25519 keys in the PEM forms OpenSSL reads and writes (`openssl pkey -in key.pem -pubout`):
/// PKCS #8 `PRIVATE KEY` (RFC 8410) for private keys, SubjectPublicKeyInfo `PUBLIC KEY` for public
/// ones. Agents' and operators' signing keys are stored this way, mode 0600, on their own machines.
public enum SigningKeyPEM {
    /// DER of PKCS #8 with the Ed25519 OID and an OCTET STRING of 32 bytes, before the key itself.
    static let privatePrefix: [UInt8] = [
        0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]
    /// DER of SubjectPublicKeyInfo with the Ed25519 OID and a BIT STRING of 32 bytes.
    static let publicPrefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]

    public static func encode(_ key: Curve25519.Signing.PrivateKey) -> String {
        pem("PRIVATE KEY", privatePrefix + key.rawRepresentation)
    }

    public static func encode(_ key: Curve25519.Signing.PublicKey) -> String {
        pem("PUBLIC KEY", publicPrefix + key.rawRepresentation)
    }

    public static func decodePrivate(_ text: String) -> Curve25519.Signing.PrivateKey? {
        guard let der = unpem("PRIVATE KEY", text), der.count == privatePrefix.count + 32,
            Array(der.prefix(privatePrefix.count)) == privatePrefix
        else { return nil }
        return try? Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
    }

    public static func decodePublic(_ text: String) -> Curve25519.Signing.PublicKey? {
        guard let der = unpem("PUBLIC KEY", text), der.count == publicPrefix.count + 32,
            Array(der.prefix(publicPrefix.count)) == publicPrefix
        else { return nil }
        return try? Curve25519.Signing.PublicKey(rawRepresentation: der.suffix(32))
    }

    /// Creates a new key at `path` (0600), never replacing one that exists.
    public static func create(at path: String) throws(SecureFileError) -> Curve25519.Signing.PrivateKey {
        let key = Curve25519.Signing.PrivateKey()
        try SecureFile.write(encode(key), to: path, mode: 0o600, replace: false)
        return key
    }

    /// Loads a key that only its owner can read.
    public static func load(from path: String) throws(SecureFileError) -> Curve25519.Signing.PrivateKey {
        let text = try SecureFile.readText(path, maxBytes: 16 << 10, private: true)
        guard let key = decodePrivate(text) else {
            throw SecureFileError(path, "not an Ed25519 private key in PEM (PKCS #8)")
        }
        return key
    }

    private static func pem(_ label: String, _ der: [UInt8]) -> String {
        "-----BEGIN \(label)-----\n\(Base64.encode(der))\n-----END \(label)-----\n"
    }

    private static func unpem(_ label: String, _ text: String) -> [UInt8]? {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        let lines = text.split(whereSeparator: \.isNewline).map { String($0.trimmed(" \t")) }
        guard let first = lines.firstIndex(of: begin), let last = lines.firstIndex(of: end), first < last else {
            return nil
        }
        return Base64.decode(lines[(first + 1)..<last].joined())
    }
}
