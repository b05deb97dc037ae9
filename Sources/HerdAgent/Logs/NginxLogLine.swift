/// nginx's two log formats, parsed from bytes without allocating.
public enum NginxLogLine {
    public typealias Bytes = UnsafeBufferPointer<UInt8>

    /// A request as the combined access-log format writes it:
    /// `IP - USER [TIME] "METHOD URI PROTO" STATUS BYTES "REFERER" "AGENT"`.
    public struct Access: Hashable {
        public var method: Range<Int>
        public var path: Range<Int>
        public var status: Int
    }

    public static func access(_ line: Bytes) -> Access? {
        guard let open = LogLine.find(requestOpen, in: line, from: 0, limit: min(line.count, 512)) else { return nil }
        let requestStart = open + requestOpen.count
        guard let close = LogLine.find(requestClose, in: line, from: requestStart, limit: line.count) else {
            return nil
        }
        guard let methodEnd = LogLine.index(of: 0x20, in: line, from: requestStart, limit: close) else { return nil }
        var pathEnd = LogLine.index(of: 0x20, in: line, from: methodEnd + 1, limit: close) ?? close
        if let query = LogLine.index(of: UInt8(ascii: "?"), in: line, from: methodEnd + 1, limit: pathEnd) {
            pathEnd = query
        }
        let statusStart = close + requestClose.count
        guard statusStart + 3 <= line.count else { return nil }
        var status = 0
        for i in statusStart..<(statusStart + 3) {
            guard (0x30...0x39).contains(line[i]) else { return nil }
            status = status * 10 + Int(line[i] - 0x30)
        }
        return Access(method: requestStart..<methodEnd, path: (methodEnd + 1)..<pathEnd, status: status)
    }

    /// The request path of an error-log line (`…, request: "POST /api/v1/statuses HTTP/1.1", …`).
    public static func errorRequestPath(_ line: Bytes) -> Range<Int>? {
        guard let at = LogLine.find(errorRequest, in: line, from: 0, limit: line.count) else { return nil }
        let start = at + errorRequest.count
        guard let methodEnd = LogLine.index(of: 0x20, in: line, from: start, limit: start + 16) else { return nil }
        let end =
            LogLine.index(of: 0x20, in: line, from: methodEnd + 1, limit: line.count)
            ?? LogLine.index(of: UInt8(ascii: "\""), in: line, from: methodEnd + 1, limit: line.count) ?? line.count
        return (methodEnd + 1)..<end
    }

    /// Whether the error-log line's request is `POST /api/v1/statuses`, Mastodon's posting path.
    public static func isPosting(errorLine line: Bytes) -> Bool {
        LogLine.find(postRequest, in: line, from: 0, limit: line.count) != nil
    }

    public static func hasPrefix(_ line: Bytes, _ range: Range<Int>, _ prefix: [UInt8]) -> Bool {
        range.count >= prefix.count && LogLine.equal(line, range.lowerBound..<(range.lowerBound + prefix.count), prefix)
    }

    public static let streamingPath: [UInt8] = Array("/api/v1/streaming".utf8)
    public static let statusesPath: [UInt8] = Array("/api/v1/statuses".utf8)
    /// Mastodon's API: nginx never serves it itself, so its answers are puma's.
    public static let apiPrefix: [UInt8] = Array("/api/".utf8)
    public static let post: [UInt8] = Array("POST".utf8)
    private static let requestOpen = Needle("] \"")
    private static let requestClose = Needle("\" ")
    private static let errorRequest = Needle(", request: \"")
    private static let postRequest = Needle(", request: \"POST /api/v1/statuses ")
}
