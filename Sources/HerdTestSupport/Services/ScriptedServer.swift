import Foundation

/// A loopback TCP server that answers every connection with bytes a test chooses — a liar, a staller or
/// a firehose — for clients that must survive hostile peers. It reads whatever the client sends first,
/// then follows the script.
public final class ScriptedServer: @unchecked Sendable {
    public enum Script: Sendable {
        /// Send these bytes, then keep the connection open (silent) until the server stops.
        case reply([UInt8])
        /// Send these bytes, then close.
        case replyAndClose([UInt8])
        /// Send this chunk again and again until the client goes away or the server stops.
        case endless([UInt8])
        /// A conversation: answer each of the client's messages with the next reply (the first
        /// answers what the client sent first), then keep the connection open.
        case conversation([[UInt8]])
        /// Send `head` at once, then the body one byte at a time, `every` apart: a peer that answers
        /// and then takes for ever to finish.
        case trickle(head: [UInt8], body: [UInt8], every: Duration)
    }

    private let server: LoopbackServer
    private let counter: Counter
    public var port: Int { server.port }
    /// How many connections the server has taken so far.
    public var connections: Int { counter.value }

    final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        var value: Int { lock.withLock { count } }
        func increment() { lock.withLock { count += 1 } }
    }

    public init(_ script: Script) throws {
        let counter = Counter()
        self.counter = counter
        server = try LoopbackServer { connection in
            counter.increment()
            if case .conversation(let replies) = script {
                for reply in replies {
                    guard !connection.receive().isEmpty, connection.send(reply) else { return }
                }
                connection.drain()
                return
            }
            _ = connection.receive()
            switch script {
            case .reply(let bytes):
                if connection.send(bytes) { connection.drain() }
            case .replyAndClose(let bytes):
                connection.send(bytes)
                connection.shutdown()
            case .endless(let chunk):
                while connection.send(chunk), !connection.isStopped {}
            case .trickle(let head, let body, let every):
                guard connection.send(head) else { return }
                for byte in body where !connection.isStopped {
                    Thread.sleep(
                        forTimeInterval: Double(every.components.seconds) + Double(every.components.attoseconds) / 1e18)
                    guard connection.send([byte]) else { return }
                }
                connection.drain()
            case .conversation: break
            }
        }
    }

    public func stop() { server.stop() }
}
