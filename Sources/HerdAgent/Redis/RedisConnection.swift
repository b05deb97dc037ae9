import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// Why talking to Redis failed, sorted the way the Sidekiq check reports it.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// `.env.production` names no usable Redis.
        case configuration
        /// Nothing listens there (ECONNREFUSED).
        case refused
        /// The unix socket does not exist.
        case socketMissing = "socket_missing"
        /// The socket exists but the agent's user may not connect to it.
        case permissionDenied = "permission_denied"
        case timeout
        /// The host name does not resolve.
        case dns
        /// NOAUTH, WRONGPASS, NOPERM.
        case authFailed = "auth_failed"
        case tls
        /// The reply broke RESP2 or a limit; the connection is closed.
        case protocolError = "protocol"
        /// Redis answered with an error reply to a command.
        case server
        /// The connection closed or failed otherwise.
        case connection
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// A small, strict RESP2 client: one connection, commands as argv arrays (never a command string),
/// optional pipelining, a deadline on every reply, bounded replies (`RESPLimits`). A timeout or a
/// malformed reply closes the connection, since the reply stream can no longer be trusted to line up.
public final class RedisConnection: Sendable {
    private let channel: Channel
    private let timeout: TimeAmount
    /// Why the connection broke, once it has: later commands fail with it at once.
    private let broken: NIOLockedValueBox<RedisError?>
    public let endpoint: RedisEndpoint

    private init(channel: Channel, endpoint: RedisEndpoint, timeout: TimeAmount, broken: NIOLockedValueBox<RedisError?>)
    {
        self.channel = channel
        self.endpoint = endpoint
        self.timeout = timeout
        self.broken = broken
    }

    /// Connects, authenticates (`AUTH [user] password`) and selects the database, all within `timeout`
    /// per step.
    public static func connect(
        to endpoint: RedisEndpoint, timeout: Duration = .seconds(5), limits: RESPLimits = RESPLimits(),
        tlsConfiguration: TLSConfiguration? = nil, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        let amount = TimeAmount.milliseconds(max(1, timeout.milliseconds))
        var sslContext: NIOSSLContext?
        if endpoint.tls {
            // rediss://: the system's trust roots, the host name verified, and never below TLS 1.2
            // (NIOSSL's client default still allows 1.0), whatever configuration a caller passes.
            var configuration = tlsConfiguration ?? .makeClientConfiguration()
            if [.tlsv1, .tlsv11].contains(configuration.minimumTLSVersion) {
                configuration.minimumTLSVersion = .tlsv12
            }
            do {
                sslContext = try NIOSSLContext(configuration: configuration)
            } catch {
                throw RedisError(.tls, "TLS setup failed: \(error)")
            }
        }
        let serverHostname: String? =
            if case .tcp(let host, _) = endpoint.address, !host.first!.isNumber, !host.contains(":") { host } else {
                nil
            }
        let tls = sslContext
        let broken = NIOLockedValueBox<RedisError?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(amount)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let handler = try NIOSSLClientHandler(context: tls, serverHostname: serverHostname)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(
                            RESPDecoder(limits: limits), maximumBufferSize: limits.maxReplyBytes + 1024))
                    try channel.pipeline.syncOperations.addHandler(RedisCommandHandler(broken: broken))
                }
            }
        let channel: Channel
        do {
            switch endpoint.address {
            case .tcp(let host, let port): channel = try await bootstrap.connect(host: host, port: port).get()
            case .unix(let path): channel = try await bootstrap.connect(unixDomainSocketPath: path).get()
            }
        } catch {
            throw classify(error, endpoint)
        }
        let connection = RedisConnection(channel: channel, endpoint: endpoint, timeout: amount, broken: broken)
        do {
            if let password = endpoint.password {
                let auth = endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password]
                _ = try await connection.send(auth)
            } else if let username = endpoint.username {
                // A user without a password: Redis 6 ACL users with `nopass`.
                _ = try await connection.send(["AUTH", username, ""])
            }
            if endpoint.database != 0 { _ = try await connection.send(["SELECT", String(endpoint.database)]) }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Sends one command and returns its reply. An error reply throws (`auth_failed` for NOAUTH,
    /// WRONGPASS and NOPERM, `server` otherwise).
    public func send(_ command: [String]) async throws(RedisError) -> RESPValue {
        try await pipeline([command])[0]
    }

    /// Sends the commands in one write and returns their replies in order; error replies are returned
    /// as `.error`, not thrown, except authentication errors.
    public func pipeline(_ commands: [[String]]) async throws(RedisError) -> [RESPValue] {
        precondition(!commands.isEmpty)
        if let failure = broken.withLockedValue({ $0 }) {
            throw RedisError(failure.kind, "\(endpoint): connection already failed: \(failure.description)")
        }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let request = RedisCommandHandler.Request(commands: commands, promise: promise, timeout: timeout)
        // A write that never reaches the handler (the channel already closed) fails here instead of
        // leaving the caller waiting; completing the promise twice is harmless.
        channel.writeAndFlush(request).whenFailure { promise.fail($0) }
        let replies: [RESPValue]
        do {
            replies = try await promise.futureResult.get()
        } catch let error as RedisError {
            throw RedisError(error.kind, "\(endpoint): \(error.description)")
        } catch {
            throw Self.classify(error, endpoint)
        }
        for reply in replies {
            if case .error(let message) = reply {
                let code = message.prefix(while: { $0 != " " })
                if ["NOAUTH", "WRONGPASS", "NOPERM"].contains(code) {
                    throw RedisError(.authFailed, "\(endpoint): \(message)")
                }
                if commands.count == 1 { throw RedisError(.server, "\(endpoint): \(message)") }
            }
        }
        return replies
    }

    public func close() async {
        try? await channel.close()
    }

    static func classify(_ error: any Error, _ endpoint: RedisEndpoint) -> RedisError {
        if let error = error as? RedisError { return error }
        if error is RESPProtocolError || error is ByteToMessageDecoderError
            || error is ByteToMessageDecoderError.PayloadTooLargeError
        {
            return RedisError(.protocolError, "\(endpoint): \(RedisCommandHandler.explain(error))")
        }
        if let failure = NetworkFailure.classify(error) {
            return RedisError(
                RedisError.Kind(rawValue: failure.kind.rawValue) ?? .connection, "\(endpoint): \(failure.detail)")
        }
        return RedisError(.connection, "\(endpoint): \(error)")
    }
}

/// Matches replies to requests in order. Each request arms its own deadline; when it fires, or when a
/// reply cannot be decoded, every waiting request fails and the channel closes.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = Request
    typealias OutboundOut = ByteBuffer

    struct Request {
        var commands: [[String]]
        var promise: EventLoopPromise<[RESPValue]>
        var timeout: TimeAmount
    }

    private struct Waiting {
        var remaining: Int
        var replies: [RESPValue]
        var promise: EventLoopPromise<[RESPValue]>
        var deadline: Scheduled<Void>
    }

    private var waiting: [Waiting] = []
    private var failure: RedisError?
    private let broken: NIOLockedValueBox<RedisError?>

    init(broken: NIOLockedValueBox<RedisError?>) {
        self.broken = broken
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        for command in request.commands {
            buffer.writeString("*\(command.count)\r\n")
            for argument in command {
                buffer.writeString("$\(argument.utf8.count)\r\n")
                buffer.writeString(argument)
                buffer.writeString("\r\n")
            }
        }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        let deadline = context.eventLoop.scheduleTask(in: request.timeout) {
            let timeout = RedisError(.timeout, "no reply within \(request.timeout.nanoseconds / 1_000_000) ms")
            bound.value.handler.fail(timeout, bound.value.context)
        }
        waiting.append(
            Waiting(remaining: request.commands.count, replies: [], promise: request.promise, deadline: deadline))
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard !waiting.isEmpty else {
            fail(RedisError(.protocolError, "a reply nobody asked for"), context)
            return
        }
        waiting[0].replies.append(value)
        waiting[0].remaining -= 1
        if waiting[0].remaining == 0 {
            let done = waiting.removeFirst()
            done.deadline.cancel()
            done.promise.succeed(done.replies)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let decoding =
            error is RESPProtocolError || error is ByteToMessageDecoderError
            || error is ByteToMessageDecoderError.PayloadTooLargeError
        if TLSErrors.isTLS(error) {
            fail(RedisError(.tls, "TLS: " + TLSErrors.reason(error)), context)
        } else {
            fail(RedisError(decoding ? .protocolError : .connection, Self.explain(error)), context)
        }
    }

    /// A reader's words for what went wrong while decoding.
    static func explain(_ error: any Error) -> String {
        switch error {
        case let error as RESPProtocolError: error.description
        case ByteToMessageDecoderError.leftoverDataWhenDone: "the connection closed in the middle of a reply"
        case ByteToMessageDecoderError.dataReceivedInErrorState(let first, _): explain(first)
        case is ByteToMessageDecoderError.PayloadTooLargeError: "reply larger than the limit"
        default: "\(error)"
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(RedisError(.connection, "connection closed by the server"), context)
        context.fireChannelInactive()
    }

    private func fail(_ error: RedisError, _ context: ChannelHandlerContext) {
        if failure == nil {
            failure = error
            broken.withLockedValue { $0 = error }
        }
        let pending = waiting
        waiting.removeAll()
        for request in pending {
            request.deadline.cancel()
            request.promise.fail(error)
        }
        context.close(promise: nil)
    }
}
