#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Decodes a `JSONNode` tree. Every value goes through `value(_:_:_:)`: scalars are read there without a
/// decoder of their own, and a coding path is built only for what nests (and for errors).
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
        if let value = try Self.scalar(T.self, node, codingPath) { return value }
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

    /// `node` as `T` when `T` is a scalar or an instant (the path is built only for an error); nil
    /// for a type that decodes itself, which then needs a decoder of its own.
    static func value<T: Decodable>(_: T.Type, _ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> T
    {
        if let value = try scalar(T.self, node, path()) { return value }
        return try NodeDecoder(node, path: path()).decode(T.self)
    }

    /// Told apart by identity (a compare each), never by a conformance look-up: that would run for
    /// every nested value.
    static func scalar<T>(_: T.Type, _ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> T? {
        func bits<U>(_ value: U) -> T { unsafeBitCast(value, to: T.self) }
        if T.self == String.self { return bits(try string(node, path())) }
        if T.self == Double.self { return bits(try double(node, path())) }
        if T.self == Date.self { return bits(try date(node, path())) }
        if T.self == Bool.self { return bits(try bool(node, path())) }
        if T.self == Float.self { return bits(Float(try double(node, path()))) }
        if T.self == Int.self { return bits(try integer(Int.self, node, path())) }
        if T.self == Int64.self { return bits(try integer(Int64.self, node, path())) }
        if T.self == UInt64.self { return bits(try integer(UInt64.self, node, path())) }
        if T.self == Int32.self { return bits(try integer(Int32.self, node, path())) }
        if T.self == UInt32.self { return bits(try integer(UInt32.self, node, path())) }
        if T.self == UInt.self { return bits(try integer(UInt.self, node, path())) }
        if T.self == Int16.self { return bits(try integer(Int16.self, node, path())) }
        if T.self == UInt16.self { return bits(try integer(UInt16.self, node, path())) }
        if T.self == Int8.self { return bits(try integer(Int8.self, node, path())) }
        if T.self == UInt8.self { return bits(try integer(UInt8.self, node, path())) }
        // Metrics and tags: the standard library's own decoding of a dictionary goes through generic
        // keys and was a third of a report's decoding.
        let type = ObjectIdentifier(T.self)
        if type == Self.doubles {
            return bits(try withoutActuallyEscaping(path) { try dictionary(node, $0, Self.double) })
        }
        if type == Self.strings {
            return bits(try withoutActuallyEscaping(path) { try dictionary(node, $0, Self.string) })
        }
        if type == Self.stringArray {
            guard case .array(let elements) = node else { throw mismatch("an array", node, path()) }
            return bits(
                try elements.enumerated().map { index, element in try string(element, path() + [IndexKey(index)]) })
        }
        return nil
    }

    /// Looked up once: a generic type's metadata is a look-up at run time.
    static let doubles = ObjectIdentifier([String: Double].self)
    static let strings = ObjectIdentifier([String: String].self)
    static let stringArray = ObjectIdentifier([String].self)

    private static func dictionary<V>(
        _ node: JSONNode, _ path: @escaping () -> [any CodingKey],
        _ value: (JSONNode, @autoclosure () -> [any CodingKey]) throws -> V
    ) throws -> [String: V] {
        guard case .object(let members) = node else { throw mismatch("an object", node, path()) }
        var out: [String: V] = [:]
        out.reserveCapacity(members.count)
        for member in members { out[member.key] = try value(member.value, path() + [DictionaryKey(member.key)]) }
        return out
    }

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

    static func date(_ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> Date {
        guard case .string(let text) = node, let date = WireTime.parse(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "not an RFC 3339 timestamp"))
        }
        return date
    }

    /// A number beyond a finite Double, or longer than any field means, is `invalid_field` (Protocol §2).
    static func double(_ node: JSONNode, _ path: @autoclosure () -> [any CodingKey]) throws -> Double {
        guard case .number(let number) = node else { throw mismatch("a number", node, path()) }
        guard let value = number.double else {
            throw WireError(.invalidField, "\(JSONCodable.path(path())): number out of range")
        }
        return value
    }

    /// A fraction or exponent is `malformed`; an integer `I` cannot hold is `invalid_field` (Protocol §8).
    static func integer<I: FixedWidthInteger>(_: I.Type, _ node: JSONNode, _ path: @autoclosure () -> [any CodingKey])
        throws -> I
    {
        guard case .number(let number) = node, number.isInteger else { throw mismatch("an integer", node, path()) }
        guard let value = number.integer(I.self) else {
            throw WireError(.invalidField, "\(JSONCodable.path(path())): must be between \(I.min) and \(I.max)")
        }
        return value
    }
}

/// An object's members, found by key. A class so that a look-up can remember where the last one was
/// found: a type reads its keys about in the order they were written, a dictionary exactly so, and
/// the next key is then found at once.
private final class KeyedNodes<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [(key: String, value: JSONNode)]
    let codingPath: [any CodingKey]
    private var next = 0

    init(members: [(key: String, value: JSONNode)], codingPath: [any CodingKey]) {
        self.members = members
        self.codingPath = codingPath
    }

    var allKeys: [Key] { members.compactMap { Key(stringValue: $0.key) } }

    private func find(_ key: Key) -> JSONNode? {
        let name = key.stringValue
        let count = members.count
        var index = next < count ? next : 0
        for _ in 0..<count {
            if members[index].key == name {
                next = index + 1
                return members[index].value
            }
            index = index + 1 == count ? 0 : index + 1
        }
        return nil
    }

    func contains(_ key: Key) -> Bool { find(key) != nil }

    private func node(_ key: Key) throws -> JSONNode {
        guard let node = find(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return node
    }

    private func child(_ key: Key) throws -> NodeDecoder { NodeDecoder(try node(key), path: codingPath + [key]) }

    func decodeNil(forKey key: Key) throws -> Bool {
        if case .null = find(key) ?? .null { return true }
        return false
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let node = try node(key)
        if case .null = node {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [key], debugDescription: "null"))
        }
        return try NodeDecoder.value(type, node, self.codingPath + [key])
    }

    /// Absent and `null` are both nil (Protocol §2), found with one look-up.
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let node = find(key) else { return nil }
        if case .null = node { return nil }
        return try NodeDecoder.value(type, node, self.codingPath + [key])
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

struct DictionaryKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ key: String) { stringValue = key }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
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

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        if isAtEnd { _ = try next() }
        let index = currentIndex
        let value = try NodeDecoder.value(type, elements[index], codingPath + [IndexKey(index)])
        currentIndex += 1
        return value
    }

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
