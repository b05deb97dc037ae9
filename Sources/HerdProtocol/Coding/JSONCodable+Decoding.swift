#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Decodes a `JSONNode` tree. Scalars are read by the keyed container without a decoder per field;
/// a coding path is built only for what nests (and for errors).
struct NodeDecoder: Decoder {
    let node: JSONNode
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ node: JSONNode, path: [any CodingKey]) {
        self.node = node
        self.codingPath = path
    }

    func container<Key: CodingKey>(keyedBy: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = node else { throw Self.mismatch("an object", node, codingPath) }
        return KeyedDecodingContainer(KeyedNodes<Key>(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = node else { throw Self.mismatch("an array", node, codingPath) }
        return UnkeyedNodes(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleNode(decoder: self) }

    /// The value as `T`: scalars and instants read here, anything else through its own `init(from:)`.
    func decode<T: Decodable>(_: T.Type) throws -> T {
        if T.self == String.self { return try Self.string(node, codingPath) as! T }
        if T.self == Bool.self { return try Self.bool(node, codingPath) as! T }
        if T.self == Double.self { return try Self.double(node, codingPath) as! T }
        if T.self == Date.self {
            guard case .string(let text) = node, let date = WireTime.parse(text) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: codingPath, debugDescription: "not an RFC 3339 timestamp"))
            }
            return date as! T
        }
        if let integer = T.self as? any FixedWidthInteger.Type {
            return try Self.integer(integer, node, codingPath) as! T
        }
        if let floating = T.self as? any BinaryFloatingPoint.Type { return try floatingPoint(floating) as! T }
        do {
            return try T(from: self)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.count == codingPath.count {
            // A closed enum's own init names no case; say which ones it takes.
            guard let closed = T.self as? any (CaseIterable & RawRepresentable).Type else {
                throw DecodingError.dataCorrupted(context)
            }
            throw DecodingError.dataCorrupted(
                .init(codingPath: codingPath, debugDescription: "expected one of \(Self.cases(closed))"))
        }
    }

    private func floatingPoint<F: BinaryFloatingPoint>(_: F.Type) throws -> F { F(try Self.double(node, codingPath)) }

    private static func cases<E: CaseIterable & RawRepresentable>(_: E.Type) -> String {
        E.allCases.map { "\($0.rawValue)" }.joined(separator: ", ")
    }

    // MARK: Scalars

    static func mismatch(_ expected: String, _ node: JSONNode, _ path: [any CodingKey]) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: path, debugDescription: "expected \(expected), found \(node.kind)"))
    }

    static func string(_ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> String {
        guard case .string(let text) = node else { throw mismatch("a string", node, path()) }
        return text
    }

    static func bool(_ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        guard case .bool(let value) = node else { throw mismatch("a boolean", node, path()) }
        return value
    }

    /// A number beyond a finite Double, or longer than any field means, is `invalid_field` (Protocol §2).
    static func double(_ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> Double {
        guard case .number(let number, let bytes) = node else { throw mismatch("a number", node, path()) }
        guard let value = number.double(in: bytes) else {
            throw WireError(.invalidField, "\(JSONCodable.path(path())): number out of range")
        }
        return value
    }

    /// A fraction or exponent is `malformed`; an integer `I` cannot hold is `invalid_field` (Protocol §8).
    static func integer<I: FixedWidthInteger>(_: I.Type, _ node: JSONNode, _ path: @autoclosure () -> [any CodingKey])
        throws -> I
    {
        guard case .number(let number, _) = node, number.isInteger else { throw mismatch("an integer", node, path()) }
        guard let value = number.integer(I.self) else {
            throw WireError(.invalidField, "\(JSONCodable.path(path())): must be between \(I.min) and \(I.max)")
        }
        return value
    }
}

private struct KeyedNodes<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONNode]
    let codingPath: [any CodingKey]
    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    private func node(_ key: Key) throws -> JSONNode {
        guard let node = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return node
    }

    private func child(_ key: Key) throws -> NodeDecoder { NodeDecoder(try node(key), path: codingPath + [key]) }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = members[key.stringValue] ?? .null { return true }
        return false
    }

    func decode(_: String.Type, forKey key: Key) throws -> String {
        try NodeDecoder.string(try node(key), codingPath + [key])
    }

    func decode(_: Bool.Type, forKey key: Key) throws -> Bool {
        try NodeDecoder.bool(try node(key), codingPath + [key])
    }

    func decode(_: Double.Type, forKey key: Key) throws -> Double {
        try NodeDecoder.double(try node(key), codingPath + [key])
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

struct IndexKey: CodingKey {
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

    mutating func decode(_: String.Type) throws -> String {
        if isAtEnd { _ = try next() }
        let index = currentIndex
        let text = try NodeDecoder.string(elements[index], codingPath + [IndexKey(index)])
        currentIndex += 1
        return text
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

    func decode(_: String.Type) throws -> String { try NodeDecoder.string(decoder.node, codingPath) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decode(type) }
}
