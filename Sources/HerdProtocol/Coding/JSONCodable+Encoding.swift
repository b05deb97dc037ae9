#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What an encoder builds: a scalar, or an object or array its nested containers keep adding to.
/// Written once at the end, objects with their keys sorted.
final class EncodedNode {
    enum Scalar {
        case string(String)
        case double(Double)
        case signed(Int64)
        case unsigned(UInt64)
        case bool(Bool)
        case null
    }

    enum Shape { case scalar, object, array }

    var shape = Shape.scalar
    var scalar = Scalar.null
    var members: [String: EncodedNode] = [:]
    var elements: [EncodedNode] = []

    func write(to w: inout JSONWriter) {
        switch shape {
        case .object:
            w.object { w in
                for key in members.keys.sorted() {
                    w.key(key)
                    members[key]!.write(to: &w)
                }
            }
        case .array: w.array(elements) { w, element in element.write(to: &w) }
        case .scalar:
            switch scalar {
            case .string(let text): w.string(text)
            case .double(let value): w.number(value)
            case .signed(let value): w.integer(value)
            case .unsigned(let value): w.integer(value)
            case .bool(let value): w.bool(value)
            case .null: w.null()
            }
        }
    }
}

struct NodeEncoder: Encoder {
    let storage = EncodedNode()
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

    /// `value` into this encoder's storage: scalars and instants here, the rest by `encode(to:)`.
    func encode<T: Encodable>(_ value: T) throws {
        switch value {
        case let text as String: storage.scalar = .string(text)
        case let flag as Bool: storage.scalar = .bool(flag)
        case let date as Date: storage.scalar = .string(WireTime.format(date))
        case let number as Double: storage.scalar = .double(try finite(number))
        case let number as any BinaryFloatingPoint: storage.scalar = .double(try finite(Double(number)))
        case let integer as any FixedWidthInteger:
            storage.scalar = Int64(exactly: integer).map(EncodedNode.Scalar.signed) ?? .unsigned(UInt64(integer))
        default: try value.encode(to: self)
        }
    }

    private func finite(_ number: Double) throws -> Double {
        guard number.isFinite else {
            throw EncodingError.invalidValue(number, .init(codingPath: codingPath, debugDescription: "not finite"))
        }
        return number
    }
}

private struct KeyedStorage<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: EncodedNode
    let codingPath: [any CodingKey]

    private func child(_ key: Key) -> NodeEncoder {
        let encoder = NodeEncoder(path: codingPath + [key])
        storage.members[key.stringValue] = encoder.storage
        return encoder
    }

    private func set(_ key: Key, _ scalar: EncodedNode.Scalar) {
        let node = EncodedNode()
        node.scalar = scalar
        storage.members[key.stringValue] = node
    }

    mutating func encodeNil(forKey key: Key) throws { set(key, .null) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(key, .string(value)) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(key, .bool(value)) }
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
    let storage: EncodedNode
    let codingPath: [any CodingKey]
    var count: Int { storage.elements.count }

    private func next() -> NodeEncoder {
        let encoder = NodeEncoder(path: codingPath + [IndexKey(count)])
        storage.elements.append(encoder.storage)
        return encoder
    }

    mutating func encodeNil() throws { next().storage.scalar = .null }
    mutating func encode(_ value: String) throws { next().storage.scalar = .string(value) }
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

    mutating func encodeNil() throws { encoder.storage.scalar = .null }
    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encode(value) }
}
