import Crypto

/// A key's stable name: lowercase hex of SHA-256 over the 32 raw bytes of its Ed25519 public key.
public struct KeyID: RawRepresentable, Codable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public init(publicKey: Curve25519.Signing.PublicKey) {
        let digest = SHA256.hash(data: publicKey.rawRepresentation)
        rawValue = Hex.lowercase(digest)
    }

    public var description: String { rawValue }
    /// The first 16 hex digits, for tables; never use it to identify a key.
    public var short: String { String(rawValue.prefix(16)) }

    public static func < (lhs: KeyID, rhs: KeyID) -> Bool { lhs.rawValue < rhs.rawValue }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        let bytes = rawValue.utf8
        guard bytes.count == 64, bytes.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) })
        else { throw .invalid(path(), "must be 64 lowercase hex digits (SHA-256 of the public key)") }
    }
}
