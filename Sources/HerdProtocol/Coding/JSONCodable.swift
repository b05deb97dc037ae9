#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Herd's one way to declare a JSON type: `Codable`, read and written by the protocol's own reader and
/// writer (Protocol/README.md §2). Signed messages, the operator API's bodies, the store's JSON columns
/// and webhook bodies all declare their fields with `CodingKeys` and go through here, under the same
/// rules: no duplicate keys, the exact number grammar, valid UTF-8, bounded depth, errors naming the path
/// (`results[2].status: expected one of ok, warning, critical, unknown`), keys written sorted, instants
/// RFC 3339 (`WireTime`) both ways.
///
/// Errors are `WireError`s: `malformed` for the shape (a missing field, a wrong type, a string no case
/// of a closed enum takes, a timestamp that is not RFC 3339), `invalid_field` for an integer its type
/// cannot hold (Protocol §8: the parser meets that limit first).
public enum JSONCodable {
    /// `bytes` as a `T`; what is not one is `malformed`, naming where (`incidents[3].opened_at: …`).
    public static func decode<T: Decodable>(_: T.Type, from bytes: some Collection<UInt8>) throws(WireError) -> T {
        var reader = JSONReader(Array(bytes))
        let node = try JSONNode.read(&reader)
        try reader.finish()
        do {
            return try NodeDecoder(node, path: []).decode(T.self)
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.malformed, describe(error))
        }
    }

    /// `value` as JSON: keys sorted, no whitespace unless `pretty`. Throws only for a number JSON
    /// cannot hold (NaN, infinity).
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> [UInt8] {
        let encoder = NodeEncoder(path: [])
        try encoder.encode(value)
        var writer = JSONWriter(pretty: pretty, capacity: 4096)
        encoder.storage.write(to: &writer)
        return writer.bytes
    }

    /// A coding path as the protocol's errors name it: `results[2].status`, `(root)` for the top.
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return text.isEmpty ? "(root)" : text
    }

    /// Where decoding stopped and why, as a path (`checks[2].status: missing`).
    static func describe(_ error: any Error) -> String {
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return path(context.codingPath + [key]) + ": missing"
        case .typeMismatch(_, let context)?: return path(context.codingPath) + ": " + context.debugDescription
        case .valueNotFound(_, let context)?: return path(context.codingPath) + ": " + context.debugDescription
        case .dataCorrupted(let context)?: return path(context.codingPath) + ": " + context.debugDescription
        default: return "(root): \(error)"
        }
    }
}

/// A JSON value read whole, for `Codable`'s access by key. Members keep their order (objects are small,
/// and a type reads its keys in about the order they were written); numbers stay as written until a
/// field reads them as its own type. Not `indirect`: 24 bytes a value and no allocation of its own, so
/// a body of a million tiny values costs tens of megabytes, not hundreds.
enum JSONNode {
    case object([(key: String, value: JSONNode)])
    case array([JSONNode])
    case string(String)
    case number(JSONNumber)
    case bool(Bool)
    case null

    static func read(_ r: inout JSONReader) throws(WireError) -> JSONNode {
        switch r.peekKind() {
        case .object?:
            var members: [(key: String, value: JSONNode)] = []
            try r.readObject { r, key throws(WireError) in members.append((key, try read(&r))) }
            return .object(members)
        case .array?:
            var elements: [JSONNode] = []
            // Bounded by the bytes read, as every caller bounds them; counts are each type's rule.
            try r.readArray(maxCount: .max) { r throws(WireError) in elements.append(try read(&r)) }
            return .array(elements)
        case .string?: return .string(try r.readString())
        case .boolean?: return .bool(try r.readBool())
        case .null?:
            guard r.readNull() else { throw r.error("invalid literal") }
            return .null
        case .number?:
            // peekKind calls anything else a number; only '-' or a digit can start one.
            guard let first = r.peek(), first == UInt8(ascii: "-") || (0x30...0x39).contains(first) else {
                throw r.error("not JSON")
            }
            return .number(try r.scanNumber().json(in: r.bytes))
        case nil: throw r.error("unexpected end of input")
        }
    }

    /// What the value is, for errors: "expected a string, found an array".
    var kind: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number: "a number"
        case .bool: "a boolean"
        case .null: "null"
        }
    }
}
