#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Codable through the protocol's own reader and writer, so that Herd has one JSON implementation:
/// the operator API's bodies and the store's JSON columns, declared with `Codable`, are read under the
/// same rules as signed messages (Protocol/README.md §2: no duplicate keys, the exact number grammar,
/// valid UTF-8, bounded depth, errors naming the path) and written with sorted keys. Instants are
/// RFC 3339 (`WireTime`) both ways.
public enum JSONCodable {
    /// `bytes` as a `T`; what is not one is `malformed`, naming where (`incidents[3].opened_at: …`).
    public static func decode<T: Decodable>(_: T.Type, from bytes: some Collection<UInt8>) throws(WireError) -> T {
        var reader = JSONReader(Array(bytes))
        let node = try JSONNode.read(&reader)
        try reader.finish()
        do {
            return try T(from: NodeDecoder(node, path: []))
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.malformed, describe(error))
        }
    }

    /// `value` as JSON: keys sorted, no whitespace unless `pretty`.
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) throws -> [UInt8] {
        let encoder = NodeEncoder(path: [])
        try value.encode(to: encoder)
        var writer = JSONWriter(pretty: pretty)
        encoder.storage.node.write(to: &writer)
        return writer.bytes
    }

    /// Where decoding stopped and why, as a path (`checks[2].status: missing`).
    static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "(root)" : String(text.drop { $0 == "." })
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return path(context.codingPath + [key]) + ": missing"
        case .typeMismatch(let type, let context)?: return path(context.codingPath) + ": expected \(type)"
        case .valueNotFound(let type, let context)?: return path(context.codingPath) + ": null where \(type) goes"
        case .dataCorrupted(let context)?: return path(context.codingPath) + ": \(context.debugDescription)"
        default: return "(root): \(error)"
        }
    }
}

/// A JSON value read whole, for `Codable`'s random access to keys.
indirect enum JSONNode {
    case object([String: JSONNode])
    case array([JSONNode])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    static func read(_ r: inout JSONReader) throws(WireError) -> JSONNode {
        switch r.peekKind() {
        case .object?:
            var members: [String: JSONNode] = [:]
            try r.readObject { r, key throws(WireError) in members[key] = try read(&r) }
            return .object(members)
        case .array?:
            var elements: [JSONNode] = []
            // Bounded by the bytes read, as every caller bounds them.
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
            return .number(try r.readDouble())
        case nil: throw r.error("unexpected end of input")
        }
    }

    func write(to w: inout JSONWriter) {
        switch self {
        case .object(let members):
            w.object { w in
                for key in members.keys.sorted() {
                    w.key(key)
                    members[key]!.write(to: &w)
                }
            }
        case .array(let elements): w.array(elements) { w, element in element.write(to: &w) }
        case .string(let text): w.string(text)
        case .number(let value): w.number(value)
        case .bool(let value): w.bool(value)
        case .null: w.null()
        }
    }
}

// MARK: Decoding

private struct NodeDecoder: Decoder {
    let node: JSONNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ node: JSONNode, path: [any CodingKey]) {
        self.node = node
        self.codingPath = path
    }

    func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type)"))
    }

    func container<Key: CodingKey>(keyedBy: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node else { throw mismatch([String: Any].self) }
        return KeyedDecodingContainer(KeyedNodes<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = node else { throw mismatch([Any].self) }
        return UnkeyedNodes(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleNode(decoder: self) }

    /// The value as `T`: primitives and instants read here, anything else through its own `init(from:)`.
    func decode<T: Decodable>(_: T.Type) throws -> T {
        switch T.self {
        case is String.Type:
            guard case .string(let text) = node else { throw mismatch(String.self) }
            return text as! T
        case is Bool.Type:
            guard case .bool(let value) = node else { throw mismatch(Bool.self) }
            return value as! T
        case is Double.Type:
            guard case .number(let value) = node else { throw mismatch(Double.self) }
            return value as! T
        case is Date.Type:
            guard case .string(let text) = node, let date = WireTime.parse(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: codingPath, debugDescription: "expected an RFC 3339 date-time"))
            }
            return date as! T
        default:
            if let integer = T.self as? any FixedWidthInteger.Type { return try decodeInteger(integer) as! T }
            return try T(from: self)
        }
    }

    private func decodeInteger<I: FixedWidthInteger>(_: I.Type) throws -> I {
        guard case .number(let value) = node, value == value.rounded(.towardZero), let exact = I(exactly: value)
        else { throw mismatch(I.self) }
        return exact
    }
}

private struct KeyedNodes<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONNode]
    let codingPath: [any CodingKey]
    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func child(_ key: Key) throws -> NodeDecoder {
        guard let node = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return NodeDecoder(node, path: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = members[key.stringValue] ?? .null { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let decoder = try child(key)
        if case .null = decoder.node {
            throw DecodingError.valueNotFound(type, .init(codingPath: decoder.codingPath, debugDescription: "null"))
        }
        return try decoder.decode(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { NodeDecoder(.object(members), path: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String { "\(intValue ?? 0)" }
    init(_ index: Int) { intValue = index }
    init?(intValue: Int) { self.intValue = intValue }
    init?(stringValue: String) { nil }
}

private struct UnkeyedNodes: UnkeyedDecodingContainer {
    let elements: [JSONNode]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    init(elements: [JSONNode], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    private mutating func next() throws -> NodeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                Any.self, .init(codingPath: codingPath + [IndexKey(currentIndex)], debugDescription: "end of array"))
        }
        defer { currentIndex += 1 }
        return NodeDecoder(elements[currentIndex], path: codingPath + [IndexKey(currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, case .null = elements[currentIndex] else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decode(type) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey>
    {
        try next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleNode: SingleValueDecodingContainer {
    let decoder: NodeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool {
        if case .null = decoder.node { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(type) }
}

// MARK: Encoding

/// What an encoder builds: a value, or an object or array its nested containers keep adding to.
private final class NodeStorage {
    enum Content {
        case value(JSONNode)
        case object([String: NodeStorage])
        case array([NodeStorage])
    }

    var content: Content = .value(.null)

    var node: JSONNode {
        switch content {
        case .value(let node): node
        case .object(let members): .object(members.mapValues(\.node))
        case .array(let elements): .array(elements.map(\.node))
        }
    }

    func set(_ key: String, _ storage: NodeStorage) {
        guard case .object(var members) = content else { return content = .object([key: storage]) }
        members[key] = storage
        content = .object(members)
    }

    func append(_ storage: NodeStorage) {
        guard case .array(var elements) = content else { return content = .array([storage]) }
        elements.append(storage)
        content = .array(elements)
    }
}

private struct NodeEncoder: Encoder {
    let storage = NodeStorage()
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(path: [any CodingKey]) { codingPath = path }

    func container<Key: CodingKey>(keyedBy: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .value = storage.content { storage.content = .object([:]) }
        return KeyedEncodingContainer(KeyedStorage<Key>(storage: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .value = storage.content { storage.content = .array([]) }
        return UnkeyedStorage(storage: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleStorage(encoder: self) }

    /// `value` into this encoder's storage: primitives and instants here, the rest by `encode(to:)`.
    func encode<T: Encodable>(_ value: T) throws {
        switch value {
        case let text as String: storage.content = .value(.string(text))
        case let flag as Bool: storage.content = .value(.bool(flag))
        case let date as Date: storage.content = .value(.string(WireTime.format(date)))
        case let number as Double:
            guard number.isFinite else {
                throw EncodingError.invalidValue(number, .init(codingPath: codingPath, debugDescription: "not finite"))
            }
            storage.content = .value(.number(number))
        case let integer as any FixedWidthInteger:
            guard let exact = Double(exactly: integer) else {
                throw EncodingError.invalidValue(
                    integer, .init(codingPath: codingPath, debugDescription: "not exact as a JSON number"))
            }
            storage.content = .value(.number(exact))
        default: try value.encode(to: self)
        }
    }
}

private struct KeyedStorage<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: NodeStorage
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> NodeEncoder {
        let encoder = NodeEncoder(path: codingPath + [key])
        storage.set(key.stringValue, encoder.storage)
        return encoder
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).storage.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try child(key).encode(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        child(key).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        child(key).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { NodeEncoder(path: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { child(key) }
}

private struct UnkeyedStorage: UnkeyedEncodingContainer {
    let storage: NodeStorage
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let elements) = storage.content { return elements.count }
        return 0
    }

    private func next() -> NodeEncoder {
        let encoder = NodeEncoder(path: codingPath + [IndexKey(count)])
        storage.append(encoder.storage)
        return encoder
    }

    mutating func encodeNil() throws { next().storage.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try next().encode(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) -> KeyedEncodingContainer<
        NestedKey
    > {
        next().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { next().unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { next() }
}

private struct SingleStorage: SingleValueEncodingContainer {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.storage.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encode(value) }
}
