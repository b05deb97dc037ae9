import Crypto
import FoundationEssentials
import NIOCore
import NIOPosix
import NIOSSL

/// How a session uses TLS, from libpq's `sslmode` (see `PostgresCheck.tlsPolicy`). Over a unix
/// socket there is never TLS, as with libpq.
enum PostgresTLSPolicy: Sendable {
    case disabled
    /// Ask; go on in the clear when the server says no.
    case preferred(NIOSSLContext)
    /// Ask; fail when the server says no.
    case required(NIOSSLContext, serverHostname: String?)
}

/// One authenticated connection to PostgreSQL, speaking the simple query protocol. Made by `open`, used
/// inside its body, and ended with Terminate when the body returns; the channel is handed out as soon
/// as it exists so a caller's deadline can close it under any step.
struct PostgresWireSession {
    private var inbound: NIOAsyncChannelInboundStream<BackendMessage>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    /// Whether the server agreed to TLS.
    private(set) var usesTLS = false
    /// The most rows and columns a query may return (the check's queries return a handful).
    static let maxRows = 10_000

    private init(
        inbound: NIOAsyncChannelInboundStream<BackendMessage>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects, negotiates TLS, authenticates and waits for ReadyForQuery, runs `body`, then sends
    /// Terminate and closes. `connected` gets the channel before anything is sent.
    static func open<T: Sendable>(
        _ settings: PostgresSettings, tls: PostgresTLSPolicy, connectTimeout: TimeAmount,
        connected: @Sendable (any Channel) -> Void,
        _ body: (inout PostgresWireSession) async throws -> T
    ) async throws -> T {
        for (name, value) in [("DB_USER", settings.user), ("DB_NAME", settings.database)]
        where value.utf8.contains(0) {
            throw PostgresWireError.invalidParameter(name)
        }
        if settings.password?.utf8.contains(0) == true { throw PostgresWireError.invalidParameter("DB_PASS") }
        var tls = tls
        if case .unix = settings.address { tls = .disabled }
        let asksForTLS = if case .disabled = tls { false } else { true }
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(connectTimeout)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<BackendMessage, ByteBuffer>> = {
            channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(
                        BackendMessageDecoder(awaitingSSLAnswer: asksForTLS),
                        maximumBufferSize: PostgresWire.maxMessageBytes + 64))
                return try NIOAsyncChannel(wrappingChannelSynchronously: channel)
            }
        }
        let channel =
            switch settings.address {
            case .tcp(let host, let port):
                try await bootstrap.connect(host: host, port: port, channelInitializer: initializer)
            case .unix(let path):
                try await bootstrap.connect(unixDomainSocketPath: path, channelInitializer: initializer)
            }
        connected(channel.channel)
        return try await channel.executeThenClose { inbound, outbound in
            var session = PostgresWireSession(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await session.negotiateTLS(tls, on: channel.channel)
            try await session.startUp(settings)
            let result = try await body(&session)
            try? await outbound.write(PostgresWire.terminate)
            return result
        }
    }

    // MARK: Startup

    private mutating func negotiateTLS(_ tls: PostgresTLSPolicy, on channel: any Channel) async throws {
        let context: NIOSSLContext
        let hostname: String?
        let required: Bool
        switch tls {
        case .disabled: return
        case .preferred(let preferred): (context, hostname, required) = (preferred, nil, false)
        case .required(let strict, let name): (context, hostname, required) = (strict, name, true)
        }
        try await outbound.write(PostgresWire.sslRequest)
        let answer = try await next()
        switch answer.kind {
        case "S":
            // Made and added on the channel's loop: the handler is not Sendable.
            try await channel.eventLoop.submit {
                let handler = try NIOSSLClientHandler(context: context, serverHostname: hostname)
                try channel.pipeline.syncOperations.addHandler(handler, position: .first)
            }.get()
            usesTLS = true
        case "N" where !required: return
        case "N": throw PostgresWireError.tlsRefused
        case "E": throw PostgresWireError.protocolViolation("the server does not understand the TLS request")
        default: throw PostgresWireError.protocolViolation("answer \(answer.type) to the TLS request")
        }
    }

    private mutating func startUp(_ settings: PostgresSettings) async throws {
        try await outbound.write(PostgresWire.startup(user: settings.user, database: settings.database))
        var scram: SCRAMClient?
        while true {
            var message = try await next()
            switch message.kind {
            case "R":
                guard let code = message.body.readInteger(as: Int32.self) else {
                    throw PostgresWireError.protocolViolation("an empty authentication request")
                }
                try await authenticate(code, &message.body, settings, &scram)
            case "E": throw PostgresWireError.server(message.body)
            case "S", "K", "N", "v": continue  // parameters, cancel key, notices, protocol minor version
            case "Z": return
            default: throw PostgresWireError.protocolViolation("message \(message.kind) during startup")
            }
        }
    }

    /// One authentication request: 0 done, 3 cleartext, 5 MD5, 10/11/12 the SASL exchange.
    private mutating func authenticate(
        _ code: Int32, _ body: inout ByteBuffer, _ settings: PostgresSettings, _ scram: inout SCRAMClient?
    ) async throws {
        func password() throws(PostgresWireError) -> String {
            guard let password = settings.password, !password.isEmpty else { throw .passwordRequired }
            return password
        }
        switch code {
        case 0:
            if scram != nil { throw PostgresWireError.protocolViolation("SCRAM ended without the server's proof") }
        case 3:
            let password = try password()
            try await send("p") { $0.writeCString(password) }
        case 5:
            guard let salt = body.readBytes(length: 4) else { throw PostgresWireError.protocolViolation("MD5 salt") }
            let inner = Self.hex(Insecure.MD5.hash(data: Array((try password() + settings.user).utf8)))
            let outer = Self.hex(Insecure.MD5.hash(data: Array(inner.utf8) + salt))
            try await send("p") { $0.writeCString("md5" + outer) }
        case 10:
            var mechanisms: [String] = []
            while let mechanism = body.readCString(), !mechanism.isEmpty { mechanisms.append(mechanism) }
            guard mechanisms.contains("SCRAM-SHA-256") else {
                throw PostgresWireError.unsupportedAuthentication("SASL \(mechanisms.joined(separator: " "))")
            }
            let client = SCRAMClient(password: try password())
            scram = client
            try await send("p") {
                $0.writeCString("SCRAM-SHA-256")
                $0.writeInteger(Int32(client.clientFirst.utf8.count))
                $0.writeString(client.clientFirst)
            }
        case 11:
            guard var client = scram, let serverFirst = body.readString(length: body.readableBytes) else {
                throw PostgresWireError.protocolViolation("SASL continue out of turn")
            }
            let final = try client.clientFinal(serverFirst: serverFirst)
            scram = client
            try await send("p") { $0.writeString(final) }
        case 12:
            guard let client = scram, let serverFinal = body.readString(length: body.readableBytes) else {
                throw PostgresWireError.protocolViolation("SASL final out of turn")
            }
            try client.verify(serverFinal: serverFinal)
            scram = nil
        case 2: throw PostgresWireError.unsupportedAuthentication("Kerberos V5")
        case 7, 8: throw PostgresWireError.unsupportedAuthentication("GSSAPI")
        case 9: throw PostgresWireError.unsupportedAuthentication("SSPI")
        default: throw PostgresWireError.unsupportedAuthentication("\(code)")
        }
    }

    // MARK: Queries

    /// Runs one statement with the simple query protocol and returns its rows as text (nil for NULL).
    /// An ErrorResponse is thrown once the server says it is ready again, so the session stays usable.
    mutating func query(_ sql: String) async throws -> [[String?]] {
        try await outbound.write(PostgresWire.query(sql))
        var rows: [[String?]] = []
        var failure: PostgresWireError?
        while true {
            var message = try await next()
            switch message.kind {
            case "D":
                guard rows.count < Self.maxRows else { throw PostgresWireError.protocolViolation("too many rows") }
                rows.append(try Self.row(&message.body))
            case "T", "C", "I", "N", "S", "A": continue
            case "E": failure = PostgresWireError.server(message.body)
            case "Z":
                if let failure { throw failure }
                return rows
            default: throw PostgresWireError.protocolViolation("message \(message.kind) in a query's answer")
            }
        }
    }

    private static func row(_ body: inout ByteBuffer) throws(PostgresWireError) -> [String?] {
        guard let count = body.readInteger(as: Int16.self), count >= 0 else {
            throw .protocolViolation("a row without a column count")
        }
        var columns: [String?] = []
        for _ in 0..<count {
            guard let length = body.readInteger(as: Int32.self) else { throw .protocolViolation("a short row") }
            if length == -1 {
                columns.append(nil)
                continue
            }
            guard length >= 0, let value = body.readString(length: Int(length)) else {
                throw .protocolViolation("a column longer than its row")
            }
            columns.append(value)
        }
        return columns
    }

    // MARK: Plumbing

    private mutating func next() async throws -> BackendMessage {
        guard let message = try await inbound.next() else { throw PostgresWireError.closed }
        return message
    }

    private func send(_ type: Character, _ body: (inout ByteBuffer) -> Void) async throws {
        try await outbound.write(PostgresWire.message(type, body))
    }

    private static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: digest.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] }, as: UTF8.self)
    }
}
