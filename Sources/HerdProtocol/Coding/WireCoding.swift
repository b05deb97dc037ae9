/// A protocol message: its fields declared with `Codable` (read and written by `JSONCodable`), and
/// its own rules.
///
/// Reading ignores unknown keys (forward compatibility) and fails with `malformed` on a wrong shape;
/// `validate()` then enforces limits and rules with `invalid_field`. Writing emits keys sorted.
public protocol WireMessage: Codable, Sendable {
    /// Throws `invalid_field` naming the first field that breaks a rule or limit.
    func validate() throws(WireError)
}

/// JSON encoding and decoding as the protocol defines it.
public enum WireCoding {
    /// A valid message's bytes, as signed and sent. A message holds only finite numbers once
    /// `validate()` passes; writing one that does not is a bug in the caller.
    public static func encode<T: WireMessage>(_ value: T, pretty: Bool = false) -> [UInt8] {
        do {
            let bytes = try JSONCodable.encode(value, pretty: pretty)
            return pretty ? bytes + [0x0A] : bytes
        } catch {
            preconditionFailure("\(T.self) holds a value JSON cannot: \(error); validate() rules that out")
        }
    }

    /// Decodes and validates a message. The checks run in a fixed order, each with its own error:
    /// size (`too_large`), JSON shape, UTF-8 and depth (`malformed`, naming the path), then the
    /// message's rules (`invalid_field`).
    public static func decode<T: WireMessage>(
        _ type: T.Type, from bytes: some Collection<UInt8>, maxBytes: Int = Limits.maxEnvelopeBytes
    ) throws(WireError) -> T {
        let value = try decodeUnvalidated(type, from: bytes, maxBytes: maxBytes)
        try value.validate()
        return value
    }

    /// `decode` without the message's own rules: for tools that show what arrived, however wrong.
    public static func decodeUnvalidated<T: WireMessage>(
        _ type: T.Type, from bytes: some Collection<UInt8>, maxBytes: Int = Limits.maxEnvelopeBytes
    ) throws(WireError) -> T {
        guard bytes.count <= maxBytes else {
            throw WireError(.tooLarge, "body of \(bytes.count) bytes exceeds the limit of \(maxBytes)")
        }
        return try JSONCodable.decode(type, from: bytes)
    }
}
