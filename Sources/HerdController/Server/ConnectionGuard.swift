import HummingbirdCore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Bounds what one client can hold of the server: at most `maxPerAddress` open connections from one
/// IP address (the next is closed at once), and a whole request — head and body — read within
/// `requestTimeout` once its first bytes arrived (a peer that trickles its body is cut off). Together
/// with Hummingbird's idle timeout (no request started: handshake, headers, or between requests), a
/// client that can reach the port cannot exhaust the controller's descriptors or hold a handler.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    // HummingbirdCore's names for NIOHTTPTypes' request and response parts.
    typealias InboundIn = HTTPConnectionStateHandler.InboundIn
    typealias InboundOut = HTTPConnectionStateHandler.InboundIn
    typealias OutboundIn = HTTPConnectionStateHandler.OutboundIn
    typealias OutboundOut = HTTPConnectionStateHandler.OutboundIn

    /// Open connections per client address, shared by every connection's guard.
    final class Counts: Sendable {
        private let counts = NIOLockedValueBox<[String: Int]>([:])

        /// Counts one more from `address`; false (and not counted) when it already has `limit`.
        func admit(_ address: String, limit: Int) -> Bool {
            counts.withLockedValue { counts in
                let current = counts[address, default: 0]
                guard current < limit else { return false }
                counts[address] = current + 1
                return true
            }
        }

        func release(_ address: String) {
            counts.withLockedValue { counts in
                let left = counts[address, default: 1] - 1
                counts[address] = left > 0 ? left : nil
            }
        }

        func open(_ address: String) -> Int { counts.withLockedValue { $0[address, default: 0] } }
    }

    private let counts: Counts
    private let maxPerAddress: Int
    private let requestTimeout: TimeAmount
    private let logger: Logger
    private var address: String?
    private var deadline: Scheduled<Void>?

    init(counts: Counts, maxPerAddress: Int, requestTimeout: TimeAmount, logger: Logger) {
        self.counts = counts
        self.maxPerAddress = maxPerAddress
        self.requestTimeout = requestTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context: context)
        context.fireChannelActive()
    }

    private func admit(context: ChannelHandlerContext) {
        guard address == nil else { return }
        let remote = context.remoteAddress?.ipAddress ?? "unknown"
        guard counts.admit(remote, limit: maxPerAddress) else {
            logger.warning(
                "connection refused: too many open connections from one address",
                metadata: ["address": "\(remote)", "limit": "\(maxPerAddress)"])
            context.close(promise: nil)
            return
        }
        address = remote
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func release() {
        deadline?.cancel()
        deadline = nil
        if let address { counts.release(address) }
        address = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            deadline?.cancel()
            let timeout = requestTimeout
            let logger = logger
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                logger.warning(
                    "connection closed: a request was not read in time",
                    metadata: ["timeout_s": "\(timeout.nanoseconds / 1_000_000_000)"])
                loopBound.value.close(promise: nil)
            }
        case .end:
            deadline?.cancel()
            deadline = nil
        case .body:
            break
        }
        context.fireChannelRead(data)
    }
}
