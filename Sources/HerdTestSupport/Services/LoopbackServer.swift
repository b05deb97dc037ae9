import Foundation

/// A loopback TCP listener that hands each connection to `serve` on a thread of its own — the
/// plumbing of the test servers that must misbehave on purpose (`ScriptedServer`, `MastodonStandIn`).
/// Serving threads close their own descriptors (`stop` only shuts sockets down), so no thread ever
/// touches a number the process has since given to someone else.
public final class LoopbackServer: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let serve: @Sendable (Connection) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Int32] = []
    private var listening = true

    /// One accepted connection, with blocking helpers.
    public struct Connection: Sendable {
        public let fd: Int32
        let server: LoopbackServer

        public var isStopped: Bool { server.isStopped }

        /// Sends everything; false once the peer is gone.
        @discardableResult
        public func send(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes {
                    Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { return false }
                offset += sent
            }
            return true
        }

        /// Up to `count` bytes; empty at end of stream or on error.
        public func receive(upTo count: Int = 4096) -> [UInt8] {
            var buffer = [UInt8](repeating: 0, count: count)
            let n = recv(fd, &buffer, count, 0)
            return n > 0 ? Array(buffer[..<n]) : []
        }

        /// Waits until the peer closes or the server stops, reading and dropping whatever comes.
        public func drain() {
            while !receive().isEmpty {}
        }

        public func shutdown() { Glibc.shutdown(fd, Int32(SHUT_RDWR)) }
    }

    public init(serve: @escaping @Sendable (Connection) -> Void) throws {
        self.serve = serve
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket failed: \(errno)") }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw FixtureError("bind/listen failed: \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func acceptLoop() {
        defer {
            lock.lock()
            close(listener)
            listening = false
            lock.unlock()
        }
        while true {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            lock.lock()
            if stopped {
                lock.unlock()
                close(client)
                return
            }
            connections.append(client)
            lock.unlock()
            Thread.detachNewThread { [self] in
                defer {
                    lock.lock()
                    connections.removeAll { $0 == client }
                    close(client)
                    lock.unlock()
                }
                serve(Connection(fd: client, server: self))
            }
        }
    }

    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        // Under the lock, so a serving thread cannot close (and the process reuse) a number meanwhile.
        if listening { shutdown(listener, Int32(SHUT_RDWR)) }
        for fd in connections { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    deinit { stop() }
}
