/// A protocol message: reads and writes its own JSON fields and checks its own rules.
///
/// Reading ignores unknown keys (forward compatibility) and fails with `malformed` on a wrong shape;
/// `validate()` then enforces limits and rules with `invalid_field`. Writing emits keys sorted.
public protocol WireMessage: Sendable {
    init(json: inout JSONReader) throws(WireError)
    func write(to json: inout JSONWriter)
    /// Throws `invalid_field` naming the first field that breaks a rule or limit.
    func validate() throws(WireError)
}

/// JSON encoding and decoding as the protocol defines it.
public enum WireCoding {
    public static func encode<T: WireMessage>(_ value: T, pretty: Bool = false) -> [UInt8] {
        var writer = JSONWriter(pretty: pretty, capacity: 4096)
        value.write(to: &writer)
        if pretty { return writer.bytes + [0x0A] }
        return writer.bytes
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
        var reader = JSONReader(Array(bytes))
        let value = try T(json: &reader)
        try reader.finish()
        return value
    }
}
