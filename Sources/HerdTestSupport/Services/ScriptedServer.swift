import Foundation

/// A loopback TCP server that answers every connection with bytes a test chooses — a liar, a staller or
/// a firehose — for clients that must survive hostile peers. Each connection is served on its own
/// thread: it reads whatever the client sends first, then follows the script. Threads close their own
/// descriptors (`stop` only shuts sockets down), so no thread ever touches a number the process has
/// since given to someone else.
public final class ScriptedServer: @unchecked Sendable {
    public enum Script: Sendable {
        /// Send these bytes, then keep the connection open (silent) until the server stops.
        case reply([UInt8])
        /// Send these bytes, then close.
        case replyAndClose([UInt8])
        /// Send this chunk again and again until the client goes away or the server stops.
        case endless([UInt8])
    }

    public let port: Int
    private let script: Script
    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false
    private var connections: [Int32] = []
    private var listening = true

    public init(_ script: Script) throws {
        self.script = script
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
        guard bound == 0, listen(fd, 16) == 0 else {
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
            Thread.detachNewThread { [self] in serve(client) }
        }
    }

    private func serve(_ client: Int32) {
        defer {
            lock.lock()
            connections.removeAll { $0 == client }
            close(client)
            lock.unlock()
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = recv(client, &buffer, buffer.count, 0)
        func send(_ bytes: [UInt8]) -> Bool {
            var offset = 0
            while offset < bytes.count {
                let sent = bytes[offset...].withUnsafeBytes {
                    Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
                }
                if sent <= 0 { return false }
                offset += sent
            }
            return true
        }
        switch script {
        case .reply(let bytes):
            // Then stay silent until the client hangs up or the server stops.
            if send(bytes) {
                while recv(client, &buffer, buffer.count, 0) > 0 {}
            }
        case .replyAndClose(let bytes):
            _ = send(bytes)
            shutdown(client, Int32(SHUT_RDWR))
        case .endless(let chunk):
            while send(chunk) {
                lock.lock()
                let done = stopped
                lock.unlock()
                if done { break }
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
