/// A message that can check its own limits and rules after decoding.
public protocol WireMessage: Codable, Sendable {
    /// Throws `invalid_field` naming the first field that breaks a rule or limit.
    func validate() throws(WireError)
}

/// JSON encoding and decoding as the protocol defines it: snake_case keys (spelled out in each
/// type's `CodingKeys`), RFC 3339 timestamps, sorted keys, and every input checked in the same order.
public enum WireCoding {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws(WireError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(WireTime.format(date))
        }
        do {
            return Array(try encoder.encode(value))
        } catch {
            throw WireError(.internalError, "could not encode \(T.self): \(error)")
        }
    }

    /// Decodes and validates a message. The checks run in a fixed order, each with its own error:
    /// size (`too_large`), UTF-8 and nesting depth (`malformed`), JSON shape (`malformed`, naming the
    /// path), then the message's rules (`invalid_field`).
    public static func decode<T: WireMessage>(
        _ type: T.Type, from bytes: some Collection<UInt8>, maxBytes: Int = Limits.maxEnvelopeBytes
    ) throws(WireError) -> T {
        let value = try decodeUnvalidated(type, from: bytes, maxBytes: maxBytes)
        try value.validate()
        return value
    }

    /// The same checks as `decode` but the message's own rules; for types that are not messages.
    public static func decodeUnvalidated<T: Decodable>(
        _ type: T.Type, from bytes: some Collection<UInt8>, maxBytes: Int = Limits.maxEnvelopeBytes
    ) throws(WireError) -> T {
        guard bytes.count <= maxBytes else {
            throw WireError(.tooLarge, "body of \(bytes.count) bytes exceeds the limit of \(maxBytes)")
        }
        let data = Data(bytes)
        try JSONPrecheck.check(data)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = WireTime.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "not an RFC 3339 timestamp")
            }
            return date
        }
        do {
            return try decoder.decode(T.self, from: data)
        } catch let error as WireError {
            throw error
        } catch let error as DecodingError {
            throw WireError(.malformed, describe(error))
        } catch {
            throw WireError(.malformed, "not valid JSON for \(T.self)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for key in keys {
                if let index = key.intValue {
                    out += "[\(index)]"
                } else {
                    out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return out.isEmpty ? "(root)" : out
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        case .valueNotFound(_, let context):
            return "\(path(context.codingPath)): must not be null"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(jsonTypeName(type))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "not valid JSON"
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Double.Type, is Int.Type, is UInt64.Type, is Int64.Type, is UInt32.Type: "a number"
        default: type is any Collection.Type ? "an array or object" : "another type"
        }
    }
}

/// One pass over the raw bytes before any JSON parser sees them: valid UTF-8, bounded nesting.
enum JSONPrecheck {
    static func check(_ data: Data) throws(WireError) {
        guard String(validating: data, as: UTF8.self) != nil else {
            throw WireError(.malformed, "body is not valid UTF-8")
        }
        var depth = 0
        var inString = false
        var escaped = false
        for byte in data {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x22 {
                    inString = false
                }
                continue
            }
            switch byte {
            case 0x22:
                inString = true
            case 0x7B, 0x5B:
                depth += 1
                if depth > Limits.maxJSONDepth {
                    throw WireError(.malformed, "JSON nested deeper than \(Limits.maxJSONDepth) levels")
                }
            case 0x7D, 0x5D:
                depth -= 1
            default:
                break
            }
        }
    }
}
