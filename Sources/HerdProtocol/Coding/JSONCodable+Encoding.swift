#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A value as an encoder builds it: a scalar, or a container its nested encoders keep adding to.
enum EncodedValue {
    case string(String)
    case double(Double)
    case signed(Int64)
    case unsigned(UInt64)
    case bool(Bool)
    case null
    case container(EncodedContainer)

    func write(to w: inout JSONWriter) {
        switch self {
        case .string(let text): w.string(text)
        case .double(let value): w.number(value)
        case .signed(let value): w.integer(value)
        case .unsigned(let value): w.integer(value)
        case .bool(let value): w.bool(value)
        case .null: w.null()
        case .container(let container): container.write(to: &w)
        }
    }
}

/// An object or array being encoded, or the one value a single-value container set. Written once at
/// the end, an object's members sorted by key.
final class EncodedContainer {
    enum Shape { case value, object, array }

    var shape = Shape.value
    var value = EncodedValue.null
    var members: [(key: String, value: EncodedValue)] = []
    var elements: [EncodedValue] = []

    func write(to w: inout JSONWriter) {
        switch shape {
        case .value: value.write(to: &w)
        case .array: w.array(elements) { w, element in element.write(to: &w) }
        case .object:
            // Members arrive in declaration order, often sorted already.
            let sorted = zip(members, members.dropFirst()).allSatisfy { $0.key < $1.key }
            w.object { w in
                for member in sorted ? members : members.sorted(by: { $0.key < $1.key }) {
                    w.key(member.key)
                    member.value.write(to: &w)
                }
            }
        }
    }
}

struct NodeEncoder: Encoder {
    let storage = EncodedContainer()
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(path: [any CodingKey]) { codingPath = path }

    func container<Key: CodingKey>(keyedBy: Key.Type) -> KeyedEncodingContainer<Key> {
        storage.shape = .object
        return KeyedEncodingContainer(KeyedStorage<Key>(storage: storage, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        storage.shape = .array
        return UnkeyedStorage(storage: storage, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleStorage(encoder: self) }

    /// `value` into this encoder's storage.
    func encode<T: Encodable>(_ value: T) throws {
        if let scalar = try Self.scalar(value, codingPath) {
            storage.value = scalar
        } else {
            try value.encode(to: self)
        }
    }

    /// Scalars and instants as JSON values; nil for what encodes itself. Told apart by identity (a
    /// compare each), never by a conformance look-up: that would run for every nested value.
    static func scalar<T: Encodable>(_ value: T, _ path: @autoclosure () -> [any CodingKey]) throws -> EncodedValue? {
        func bits<U>(_: U.Type) -> U { unsafeBitCast(value, to: U.self) }
        if T.self == String.self { return .string(bits(String.self)) }
        if T.self == Double.self { return .double(try finite(bits(Double.self), path())) }
        if T.self == Date.self { return .string(WireTime.format(bits(Date.self))) }
        if T.self == Bool.self { return .bool(bits(Bool.self)) }
        if T.self == Float.self { return .double(try finite(Double(bits(Float.self)), path())) }
        if T.self == Int.self { return .signed(Int64(bits(Int.self))) }
        if T.self == Int64.self { return .signed(bits(Int64.self)) }
        if T.self == UInt64.self { return .unsigned(bits(UInt64.self)) }
        if T.self == Int32.self { return .signed(Int64(bits(Int32.self))) }
        if T.self == UInt32.self { return .unsigned(UInt64(bits(UInt32.self))) }
        if T.self == UInt.self { return .unsigned(UInt64(bits(UInt.self))) }
        if T.self == Int16.self { return .signed(Int64(bits(Int16.self))) }
        if T.self == UInt16.self { return .unsigned(UInt64(bits(UInt16.self))) }
        if T.self == Int8.self { return .signed(Int64(bits(Int8.self))) }
        if T.self == UInt8.self { return .unsigned(UInt64(bits(UInt8.self))) }
        // Metrics and tags, without the standard library's generic keys.
        let type = ObjectIdentifier(T.self)
        if type == NodeDecoder.doubles {
            return .container(try object(bits([String: Double].self)) { .double(try finite($0, path())) })
        }
        if type == NodeDecoder.stringArray {
            let container = EncodedContainer()
            container.shape = .array
            container.elements = bits([String].self).map { .string($0) }
            return .container(container)
        }
        if type == NodeDecoder.strings { return .container(try object(bits([String: String].self)) { .string($0) }) }
        return nil
    }

    static func object<V>(_ dictionary: [String: V], _ value: (V) throws -> EncodedValue) throws -> EncodedContainer {
        let container = EncodedContainer()
        container.shape = .object
        container.members.reserveCapacity(dictionary.count)
        for (key, element) in dictionary { container.members.append((key, try value(element))) }
        return container
    }

    static func finite(_ number: Double, _ path: @autoclosure () -> [any CodingKey]) throws -> Double {
        guard number.isFinite else {
            throw EncodingError.invalidValue(number, .init(codingPath: path(), debugDescription: "not finite"))
        }
        return number
    }
}

private struct KeyedStorage<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: EncodedContainer
    let codingPath: [any CodingKey]

    private func set(_ key: Key, _ value: EncodedValue) { storage.members.append((key.stringValue, value)) }

    private func child(_ key: Key) -> NodeEncoder {
        let encoder = NodeEncoder(path: codingPath + [key])
        set(key, .container(encoder.storage))
        return encoder
    }

    mutating func encodeNil(forKey key: Key) throws { set(key, .null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if let scalar = try NodeEncoder.scalar(value, codingPath + [key]) {
            set(key, scalar)
        } else {
            try value.encode(to: child(key))
        }
    }

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
    let storage: EncodedContainer
    let codingPath: [any CodingKey]
    var count: Int { storage.elements.count }

    private func next() -> NodeEncoder {
        let encoder = NodeEncoder(path: codingPath + [IndexKey(count)])
        storage.elements.append(.container(encoder.storage))
        return encoder
    }

    mutating func encodeNil() throws { storage.elements.append(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        if let scalar = try NodeEncoder.scalar(value, codingPath + [IndexKey(count)]) {
            storage.elements.append(scalar)
        } else {
            try value.encode(to: next())
        }
    }

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

    mutating func encodeNil() throws { encoder.storage.value = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encode(value) }
}
