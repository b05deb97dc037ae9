/// Counts from Mastodon's own log lines, per cycle: requests by status class from lograge's `status=`,
/// `status=500` by their `error='Class: …'`, Rails exception headers, and Sidekiq jobs done and failed
/// in all three formats (6.5 and 7.x: `… jid=… elapsed=0.8 INFO: fail`; 8.x: level first in ANSI
/// colour, `INFO  … jid=… elapsed=8.7: fail`).
public struct ApplicationLogStats: Sendable, Hashable {
    public static let maxErrorClasses = 32

    /// Index = status / 100 (1…5).
    public var requestsByClass = [Int](repeating: 0, count: 6)
    public var status500 = 0
    /// Error class of each `status=500` → how often, where, and a redacted sample line.
    public var errors500: [String: Error500] = [:]

    public struct Error500: Sendable, Hashable {
        public var count: Int
        public var sample: String
        public var firstLine: Int
        public var lastLine: Int
    }
    public var exceptions = 0
    public var sidekiqDone = 0
    public var sidekiqFailed = 0
    public var postingRequests = 0
    public var postingFailures = 0

    public init() {}

    public var requests: Int { requestsByClass.reduce(0, +) }

    public static func == (a: ApplicationLogStats, b: ApplicationLogStats) -> Bool {
        a.requestsByClass == b.requestsByClass && a.status500 == b.status500 && a.exceptions == b.exceptions
            && a.sidekiqDone == b.sidekiqDone && a.sidekiqFailed == b.sidekiqFailed
            && a.errors500.mapValues(\.count) == b.errors500.mapValues(\.count)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(requestsByClass)
        hasher.combine(sidekiqFailed)
    }

    public mutating func feed(_ line: UnsafeBufferPointer<UInt8>, number: Int = 0) {
        LogLine.withoutANSI(line) { feed(clean: $0, messageStart: LogLine.messageStart($0), number: number) }
    }

    /// `feed` for a line already stripped of colour codes, with its message start (see `LogClassifier`);
    /// `number` is the line's, for where a 500's error class was seen.
    public mutating func feed(clean line: UnsafeBufferPointer<UInt8>, messageStart start: Int, number: Int = 0) {
        let limit = line.count
        if let method = Self.lograge(line, from: start),
            let status = LogLine.find(Self.status, in: line, from: method, limit: limit),
            let code = Self.threeDigits(line, at: status + Self.status.count)
        {
            requestsByClass[min(5, max(1, code / 100))] += 1
            if LogLine.hasPrefix(line, Self.postStatuses, at: method) {
                postingRequests += 1
                if code >= 500 { postingFailures += 1 }
            }
            if code == 500 { record500(line, from: status, start: start, number: number) }
            return
        }
        if let fatal = LogLine.find(Self.fatal, in: line, from: start, limit: min(limit, start + 80)) {
            var i = fatal + Self.fatal.count
            if i < limit, line[i] == UInt8(ascii: "["),
                let close = LogLine.index(of: UInt8(ascii: "]"), in: line, from: i, limit: i + 80)
            {
                i = close + 2
            }
            // "ClassName (message):" opens an exception block; its frames follow as FATAL lines too.
            if i < limit, (0x41...0x5A).contains(line[i]),
                let space = LogLine.index(of: 0x20, in: line, from: i, limit: i + 128), space + 1 < limit,
                line[space + 1] == UInt8(ascii: "(")
            {
                exceptions += 1
            }
            return
        }
        // Sidekiq's `tid=` comes right after its timestamp and pid: no need to search a whole long line.
        if LogLine.find(Self.thread, in: line, from: start, limit: min(limit, start + 160)) != nil {
            if Self.endsWith(line, Self.fail) {
                sidekiqFailed += 1
            } else if Self.endsWith(line, Self.done) {
                sidekiqDone += 1
            }
        }
    }

    /// The 500s whose error class no signature of `matcher` names, as `app_error` tallies named
    /// `HTTP 500 <class>`: an exception in the application's own code is still worth naming.
    public func unrecognised500s(_ matcher: SignatureMatcher) -> [LogClassifier.Tally] {
        errors500.compactMap { name, entry in
            guard matcher.firstMatch(in: Array(name.utf8)) == nil else { return nil }
            return LogClassifier.Tally(
                category: .appError, signature: "HTTP 500 " + name, count: UInt64(entry.count),
                firstLine: entry.firstLine, lastLine: entry.lastLine, sample: entry.sample)
        }
    }

    private mutating func record500(_ line: UnsafeBufferPointer<UInt8>, from status: Int, start: Int, number: Int) {
        status500 += 1
        var name = "(no error field)"
        if let error = LogLine.find(Self.error, in: line, from: status, limit: line.count) {
            let from = error + Self.error.count
            var end = from
            while end < line.count, end - from < 128, line[end] != UInt8(ascii: "'"),
                !(line[end] == UInt8(ascii: ":") && end + 1 < line.count && line[end + 1] == 0x20)
            {
                end += 1
            }
            if end > from { name = String(decoding: line[from..<end], as: UTF8.self) }
        }
        if errors500[name] == nil && errors500.count >= Self.maxErrorClasses { name = "(other error classes)" }
        if errors500[name] != nil {
            errors500[name]!.count += 1
            errors500[name]!.lastLine = number
        } else {
            errors500[name] = Error500(
                count: 1, sample: Redactor.sample(line[start...].prefix(Redactor.maxInputBytes)), firstLine: number,
                lastLine: number)
        }
    }

    private static func threeDigits(_ line: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        guard i + 3 <= line.count else { return nil }
        var value = 0
        for j in i..<(i + 3) {
            guard (0x30...0x39).contains(line[j]) else { return nil }
            value = value * 10 + Int(line[j] - 0x30)
        }
        if i + 3 < line.count, line[i + 3] != 0x20 { return nil }
        return value
    }

    /// Where lograge's `method=` starts, when this is a lograge line: `method` is always its first
    /// key, so only the line's first `=` has to be looked at (other lines are full of `key=`).
    private static func lograge(_ line: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let equals = LogLine.index(of: UInt8(ascii: "="), in: line, from: start, limit: line.count) else {
            return nil
        }
        let method = equals + 1 - Self.method.count
        guard method >= start, LogLine.hasPrefix(line, Self.method, at: method),
            method == start || line[method - 1] == 0x20 || line[method - 1] == UInt8(ascii: "]")
        else { return nil }
        return method
    }

    private static func endsWith(_ line: UnsafeBufferPointer<UInt8>, _ needle: Needle) -> Bool {
        let suffix = needle.bytes
        var end = line.count
        while end > 0, line[end - 1] == 0x20 || line[end - 1] == 0x0D { end -= 1 }
        guard end >= suffix.count else { return false }
        return LogLine.equal(line, (end - suffix.count)..<end, suffix)
    }

    private static let method = Needle("method=")
    private static let status = Needle(" status=")
    private static let error = Needle(" error='")
    private static let postStatuses = Needle("method=POST path=/api/v1/statuses ")
    private static let fatal = Needle(" FATAL -- : ")
    private static let thread = Needle(" tid=")
    private static let fail = Needle(": fail")
    private static let done = Needle(": done")
}
