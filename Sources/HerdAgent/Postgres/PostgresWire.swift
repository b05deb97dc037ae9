import NIOCore

/// PostgreSQL's frontend/backend protocol (version 3.0), as much of it as the check speaks: the TLS
/// request, the startup message, password, MD5 and SCRAM-SHA-256 authentication, simple queries with
/// text results, and Terminate. (postgres-nio would do all of it, and much more, but it links full
/// Foundation and ICU into the agent: 7 MiB of idle memory on every host for four queries a minute.)
enum PostgresWire {
    /// The protocol version the startup message asks for: 3.0.
    static let protocolVersion: UInt32 = 196_608
    /// SSLRequest's magic number in place of a protocol version.
    static let sslRequestCode: UInt32 = 80_877_103
    /// The largest message the check accepts from a server (its answers are a few hundred bytes).
    static let maxMessageBytes = 1 << 20

    /// A frontend message: the type byte (none for the startup and TLS requests), the length, the body.
    static func message(_ type: Character?, _ body: (inout ByteBuffer) -> Void) -> ByteBuffer {
        var buffer = ByteBuffer()
        if let type { buffer.writeInteger(type.asciiValue!) }
        let lengthAt = buffer.writerIndex
        buffer.writeInteger(UInt32(0))
        body(&buffer)
        buffer.setInteger(UInt32(buffer.writerIndex - lengthAt), at: lengthAt)
        return buffer
    }

    static var sslRequest: ByteBuffer { message(nil) { $0.writeInteger(sslRequestCode) } }

    static func startup(user: String, database: String) -> ByteBuffer {
        message(nil) { body in
            body.writeInteger(protocolVersion)
            for (key, value) in [("user", user), ("database", database), ("application_name", "herd-agent")] {
                body.writeCString(key)
                body.writeCString(value)
            }
            body.writeInteger(UInt8(0))
        }
    }

    static func query(_ sql: String) -> ByteBuffer { message("Q") { $0.writeCString(sql) } }
    static var terminate: ByteBuffer { message("X") { _ in } }
}

extension ByteBuffer {
    /// A string and its terminating NUL. Callers refuse strings that hold a NUL themselves.
    mutating func writeCString(_ string: String) {
        writeString(string)
        writeInteger(UInt8(0))
    }

    /// The string up to the next NUL, which is consumed; nil when there is none.
    mutating func readCString() -> String? {
        guard let end = readableBytesView.firstIndex(of: 0) else { return nil }
        let string = readString(length: end - readerIndex)
        moveReaderIndex(forwardBy: 1)
        return string
    }
}

/// One message from the server: its type byte and its body, the length already checked and removed.
struct BackendMessage: Sendable {
    var type: UInt8
    var body: ByteBuffer

    var kind: Character { Character(UnicodeScalar(type)) }
}

/// Cuts the server's byte stream into messages, refusing a length below 4 or above the limit before it
/// buffers the body. When the client has sent SSLRequest, the first answer is a single byte (`S` or
/// `N`), passed on as a message with an empty body; a server that sends anything after its `S` before
/// the TLS handshake is refused, since those bytes would be read as if they had come over TLS
/// (CVE-2021-23222, the same check libpq makes).
struct BackendMessageDecoder: ByteToMessageDecoder {
    typealias InboundOut = BackendMessage

    var awaitingSSLAnswer: Bool

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if awaitingSSLAnswer {
            guard let answer = buffer.readInteger(as: UInt8.self) else { return .needMoreData }
            awaitingSSLAnswer = false
            if answer == UInt8(ascii: "S"), buffer.readableBytes > 0 {
                throw PostgresWireError.protocolViolation("the server sent data after agreeing to TLS")
            }
            context.fireChannelRead(wrapInboundOut(BackendMessage(type: answer, body: ByteBuffer())))
            return .continue
        }
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self)
        else { return .needMoreData }
        guard length >= 4, Int(length) - 4 <= PostgresWire.maxMessageBytes else {
            throw PostgresWireError.protocolViolation("a message of \(length) bytes")
        }
        guard buffer.readableBytes >= 1 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 5)
        let body = buffer.readSlice(length: Int(length) - 4)!
        context.fireChannelRead(wrapInboundOut(BackendMessage(type: type, body: body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        try decode(context: context, buffer: &buffer)
    }
}

/// Why a conversation with PostgreSQL failed, before the check sorts it.
enum PostgresWireError: Error, Sendable, Hashable, CustomStringConvertible {
    /// An ErrorResponse: SQLSTATE and message.
    case server(sqlState: String, message: String)
    /// The server broke the protocol (or a limit); the connection is closed.
    case protocolViolation(String)
    case closed
    /// The server wants a password and there is none.
    case passwordRequired
    /// Kerberos, GSSAPI, SSPI, or SASL without SCRAM-SHA-256.
    case unsupportedAuthentication(String)
    /// `sslmode=require` (or stricter) and the server answered `N`.
    case tlsRefused
    /// A value holds a NUL byte, which the protocol cannot carry.
    case invalidParameter(String)

    var description: String {
        switch self {
        case .server(let state, let message): "\(state) \(message)"
        case .protocolViolation(let what): "protocol violation: \(what)"
        case .closed: "the server closed the connection"
        case .passwordRequired: "the server asks for a password and DB_PASS is empty"
        case .unsupportedAuthentication(let method): "unsupported authentication method \(method)"
        case .tlsRefused: "the server does not offer TLS (DB_SSLMODE requires it)"
        case .invalidParameter(let name): "\(name) holds a NUL byte"
        }
    }

    /// The fields of an ErrorResponse (`C` SQLSTATE, `M` message); unknown fields are skipped.
    static func server(_ body: ByteBuffer) -> PostgresWireError {
        var body = body
        var state = "XX000"
        var message = "(no message)"
        while let code = body.readInteger(as: UInt8.self), code != 0, let value = body.readCString() {
            if code == UInt8(ascii: "C") { state = value }
            if code == UInt8(ascii: "M") { message = String(value.prefix(500)) }
        }
        return .server(sqlState: state, message: message)
    }
}
