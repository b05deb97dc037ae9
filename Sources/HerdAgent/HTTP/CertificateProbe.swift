import FoundationEssentials
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// Reads the certificate a TLS server presents for a name, without judging it: an expired or
/// mis-issued certificate must still be read to say how many days it has left (or has been dead).
/// Whether clients accept it is the public probes' business, which verify as browsers do.
enum CertificateProbe {
    /// Connects to `address` (default: `host`) on `port`, sends `host` as SNI, completes the handshake
    /// and returns the leaf's `notAfter`, all within `timeout`.
    static func read(host: String, port: Int, address: String? = nil, timeout: Duration) async throws(HTTPFetchError)
        -> Date
    {
        let context: NIOSSLContext
        switch Self.context {
        case .success(let made): context = made
        case .failure(let error): throw HTTPFetchError(.tls, "TLS setup failed: \(error)")
        }
        let sni: String? = host.first.map { !$0.isNumber } == true && !host.contains(":") ? host : nil
        let amount = TimeAmount.milliseconds(max(1, timeout.milliseconds))
        let group = MultiThreadedEventLoopGroup.singleton
        let handshake = group.any().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(amount)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: sni)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: handshake))
                }
            }
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: address ?? host, port: port).get()
        } catch {
            handshake.fail(error)
            throw HTTPFetcher.classify(error)
        }
        let timer = channel.eventLoop.scheduleTask(in: amount) {
            handshake.fail(HTTPFetchError(.timeout, "no TLS handshake within \(timeout.milliseconds) ms"))
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        do {
            try await handshake.futureResult.get()
            guard let certificate = try await channel.nioSSL_peerCertificate().get() else {
                throw HTTPFetchError(.tls, "\(host) presented no certificate")
            }
            return Date(timeIntervalSince1970: Double(certificate.notValidAfter))
        } catch {
            throw HTTPFetcher.classify(error)
        }
    }

    /// One context for the agent's life: making one costs more than the handshake itself.
    private static let context = Result {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .none
        return try NIOSSLContext(configuration: configuration)
    }

    private final class HandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = NIOAny
        let promise: EventLoopPromise<Void>
        init(promise: EventLoopPromise<Void>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let event = event as? TLSUserEvent, case .handshakeCompleted = event { promise.succeed(()) }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(HTTPFetchError(.connection, "closed during the TLS handshake"))
            context.fireChannelInactive()
        }
    }
}
