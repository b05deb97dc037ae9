import NIOCore

/// One RESP2 reply (https://redis.io/docs/latest/develop/reference/protocol-spec/).
public enum RESPValue: Sendable, Hashable {
    case simple(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; nil is the null bulk string (`$-1`).
    case bulk([UInt8]?)
    /// An array; nil is the null array (`*-1`).
    case array([RESPValue]?)

    /// The value as text: a simple or bulk string (bulk bytes must be UTF-8), or an integer.
    public var string: String? {
        switch self {
        case .simple(let text): text
        case .bulk(let bytes?): String(validating: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// The value as an integer: an integer reply, or a string holding one (Redis returns `ZCARD` as an
    /// integer and `HGET` of a counter as a bulk string).
    public var integer: Int64? {
        switch self {
        case .integer(let value): value
        case .simple, .bulk: string.flatMap { Int64($0) }
        default: nil
        }
    }

    public var elements: [RESPValue]? {
        if case .array(let values?) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .bulk(nil) || self == .array(nil) }
}

/// How much of a reply the client accepts. A reply beyond any limit is a protocol error that closes the
/// connection: the agent reads small, known keys and never needs a large value.
public struct RESPLimits: Sendable, Hashable {
    /// Longest simple string, error or length line.
    public var maxLineBytes = 64 * 1024
    /// Longest bulk string.
    public var maxBulkBytes = 1 << 20
    /// Most elements in one array.
    public var maxArrayElements = 100_000
    /// Deepest nesting of arrays.
    public var maxDepth = 4
    /// Most bytes buffered for one reply before it is complete.
    public var maxReplyBytes = 8 << 20

    public init() {}
}

/// Why a reply could not be read.
public struct RESPProtocolError: Error, Hashable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Decodes RESP2 replies strictly: every line must end in CRLF, lengths must be decimal and within
/// `RESPLimits`, and a type byte it does not know is an error, not something to skip.
struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = RESPValue
    let limits: RESPLimits

    mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        var view = buffer
        guard let value = try parse(&view, depth: 0) else {
            if buffer.readableBytes > limits.maxReplyBytes {
                throw RESPProtocolError("reply larger than \(limits.maxReplyBytes) bytes")
            }
            return nil
        }
        buffer = view
        return value
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        try decode(buffer: &buffer)
    }

    /// One value from the front of `buffer`, or nil (and `buffer` untouched meaningfully) when it has
    /// not all arrived yet.
    private func parse(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
        guard let line = try readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"): return .simple(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"): return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"): return .integer(try number(line))
        case UInt8(ascii: "$"):
            let length = try number(line)
            if length == -1 { return .bulk(nil) }
            guard length >= 0, length <= limits.maxBulkBytes else {
                throw RESPProtocolError("bulk string of \(length) bytes (limit \(limits.maxBulkBytes))")
            }
            guard buffer.readableBytes >= Int(length) + 2 else { return nil }
            let bytes = buffer.readBytes(length: Int(length))!
            guard buffer.readInteger(as: UInt16.self) == 0x0D0A else {
                throw RESPProtocolError("bulk string not terminated by CRLF where its length says")
            }
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            let count = try number(line)
            if count == -1 { return .array(nil) }
            guard count >= 0, count <= limits.maxArrayElements else {
                throw RESPProtocolError("array of \(count) elements (limit \(limits.maxArrayElements))")
            }
            guard depth < limits.maxDepth else {
                throw RESPProtocolError("arrays nested deeper than \(limits.maxDepth)")
            }
            var elements: [RESPValue] = []
            elements.reserveCapacity(min(Int(count), 1024))
            for _ in 0..<count {
                guard let element = try parse(&buffer, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            return .array(elements)
        default:
            throw RESPProtocolError("unknown reply type byte 0x\(String(type, radix: 16))")
        }
    }

    /// The bytes after the type byte up to CRLF, consumed with it; nil until the CRLF has arrived.
    private func readLine(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        let start = buffer.readerIndex + 1
        let available = buffer.readableBytes - 1
        let scan = min(available, limits.maxLineBytes + 2)
        guard
            let newline = buffer.withUnsafeReadableBytes({ raw in
                raw[1..<(1 + scan)].firstIndex(of: 0x0A)
            })
        else {
            if available > limits.maxLineBytes + 1 {
                throw RESPProtocolError("reply line longer than \(limits.maxLineBytes) bytes")
            }
            return nil
        }
        let end = buffer.readerIndex + newline  // index of LF
        guard end > start, buffer.getInteger(at: end - 1, as: UInt8.self) == 0x0D else {
            throw RESPProtocolError("reply line not terminated by CRLF")
        }
        let line = buffer.getBytes(at: start, length: end - 1 - start)!
        buffer.moveReaderIndex(to: end + 1)
        return line
    }

    private func number(_ line: [UInt8]) throws -> Int64 {
        guard line.count <= 20, let value = Int64(String(decoding: line, as: UTF8.self)) else {
            throw RESPProtocolError("not a number: \(String(decoding: line.prefix(24), as: UTF8.self))")
        }
        return value
    }
}
