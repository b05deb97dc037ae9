import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// A read-only client of the Docker Engine API on its unix socket (`docker.socket`): `GET` only, one
/// request per connection (`Connection: close`), a deadline over the whole exchange, the answer capped.
/// Blocking: it runs on the calling check's own thread, as `systemctl` would.
public struct DockerEngine: Sendable {
    /// The API version asked for: Docker 20.10 speaks it, and later engines still answer it.
    public static let apiVersion = "v1.41"
    /// An answer larger than this (a list of thousands of containers) is refused, not read on.
    public static let maxAnswerBytes = 8 << 20

    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    /// `GET /v1.41{path}`: the body of a 200 answer (de-chunked), at most `maxBytes` of it, or the
    /// engine's `{"message": …}` as the error of any other status.
    public func get(_ path: String, timeout: Duration, maxBytes: Int = maxAnswerBytes) throws(HostError) -> (
        body: [UInt8], truncated: Bool
    ) {
        let deadline = ContinuousClock.now + timeout
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HostError.errno(errno, "docker: socket") }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw HostError(.invalid, "docker.socket \(socketPath): path too long for a unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in pathBytes.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            if code == ECONNREFUSED { throw HostError(.failed, "docker.socket \(socketPath): no engine listens there") }
            if code == EACCES || code == EPERM {
                throw HostError(
                    .permissionDenied, "docker.socket \(socketPath): permission denied (is the agent's user in docker?)"
                )
            }
            throw HostError.errno(code, "docker.socket \(socketPath)")
        }
        let request = Array(
            "GET /\(Self.apiVersion)\(path) HTTP/1.1\r\nHost: docker\r\nUser-Agent: herd-agent\r\nConnection: close\r\n\r\n"
                .utf8)
        var written = 0
        while written < request.count {
            try Self.wait(fd, for: Int16(POLLOUT), until: deadline, path: path)
            let n = request[written...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HostError.errno(errno, "docker: sending \(path)") }
            written += n
        }
        // Headers and body as they come, until the engine closes (or the cap: the rest is not read).
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        let cap = maxBytes + 64 << 10
        var truncated = false
        while true {
            try Self.wait(fd, for: Int16(POLLIN), until: deadline, path: path)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else {
                if errno == EINTR { continue }
                throw HostError.errno(errno, "docker: reading \(path)")
            }
            answer += buffer[..<n]
            if answer.count >= cap {
                truncated = true
                break
            }
        }
        return try Self.parse(answer, path: path, maxBytes: maxBytes, truncated: truncated)
    }

    private static func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant, path: String)
        throws(HostError)
    {
        while true {
            let left = ContinuousClock.now.duration(to: deadline)
            guard left > .zero else { throw HostError(.timedOut, "docker: no answer to \(path) in time") }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let milliseconds = Int32(
                min(left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000 + 1, 60_000))
            let ready = poll(&entry, 1, milliseconds)
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw HostError.errno(errno, "docker: poll") }
        }
    }

    /// Splits an HTTP/1.1 answer: the status, then the body (de-chunked when chunked).
    static func parse(_ answer: [UInt8], path: String, maxBytes: Int, truncated: Bool) throws(HostError) -> (
        body: [UInt8], truncated: Bool
    ) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = answer.firstRange(of: separator) else {
            throw HostError(.invalid, "docker: \(path): not an HTTP answer")
        }
        let head = String(decoding: answer[..<end.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw HostError(.invalid, "docker: \(path): not an HTTP answer")
        }
        let chunked = lines.dropFirst().contains {
            $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked")
        }
        var body = Array(answer[end.upperBound...])
        var cut = truncated
        if chunked {
            var out: [UInt8] = []
            var index = 0
            while true {
                guard let lineEnd = body[index...].firstRange(of: [13, 10]) else {
                    cut = true
                    break
                }
                let sizeText = String(decoding: body[index..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16), size >= 0 else {
                    throw HostError(.invalid, "docker: \(path): a broken chunk")
                }
                if size == 0 { break }
                let start = lineEnd.upperBound
                guard start + size <= body.count else {
                    out += body[start...]
                    cut = true
                    break
                }
                out += body[start..<start + size]
                index = start + size + 2
                guard index <= body.count else { break }
            }
            body = out
        }
        if body.count > maxBytes {
            body.removeSubrange(maxBytes...)
            cut = true
        }
        guard status == 200 else {
            let message =
                (try? JSONCodableMessage.decode(body)) ?? String(decoding: body.prefix(200), as: UTF8.self)
            let kind: HostError.Kind = status == 404 ? .notFound : status == 403 ? .permissionDenied : .failed
            throw HostError(kind, "docker: \(path): \(status) \(message.escapingControlCharacters)")
        }
        return (body, cut)
    }
}

/// The engine's error body, `{"message": "…"}`.
private enum JSONCodableMessage {
    struct Body: Decodable { var message: String }
    static func decode(_ bytes: [UInt8]) throws -> String { try JSONCodable.decode(Body.self, from: bytes).message }
}
