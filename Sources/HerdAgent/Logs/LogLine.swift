#if canImport(Glibc)
    import Glibc
#endif

/// Pure functions over one log line's bytes: strip ANSI colour codes, find where the message starts
/// after journald/syslog and docker prefixes, read a Rails request-id tag or a Sidekiq thread, recognise
/// backtrace lines. They work on buffers and allocate nothing, since they run on every line.
public enum LogLine {
    public typealias Bytes = UnsafeBufferPointer<UInt8>

    /// Whether the line holds an ESC byte at all (most lines do not, and need no copy).
    public static func hasEscape(_ line: Bytes) -> Bool {
        guard let base = line.baseAddress, !line.isEmpty else { return false }
        return memchr(base, 0x1B, line.count) != nil
    }

    /// Copies `line` into `out` without ANSI CSI sequences (`ESC [ params letter`), which Sidekiq 8
    /// writes even into journald.
    public static func stripANSI(_ line: Bytes, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        var i = 0
        let n = line.count
        while i < n {
            let byte = line[i]
            if byte == 0x1B, i + 1 < n, line[i + 1] == UInt8(ascii: "[") {
                var j = i + 2
                while j < n, (0x30...0x3F).contains(line[j]) { j += 1 }  // parameter bytes
                while j < n, (0x20...0x2F).contains(line[j]) { j += 1 }  // intermediate bytes
                if j < n, (0x40...0x7E).contains(line[j]) {
                    i = j + 1
                    continue
                }
            }
            out.append(byte)
            i += 1
        }
    }

    /// The offset where the message starts, after a syslog/journald short prefix
    /// (`Nov 21 18:00:04 host ident[pid]: `) or a docker compose prefix (`web_1  | `), when present.
    public static func messageStart(_ line: Bytes) -> Int {
        // docker compose: NAME spaces "| "
        if let bar = index(of: UInt8(ascii: "|"), in: line, from: 0, limit: 64), bar > 0, bar + 1 < line.count,
            line[bar + 1] == 0x20, line[bar - 1] == 0x20,
            (0..<bar).allSatisfy({ i in
                let b = line[i]
                return b == 0x20 || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || isAlnum(b)
            })
        {
            return bar + 2
        }
        // syslog: "Mmm dd hh:mm:ss host ident[pid]: " or "... ident: "
        guard line.count > 16, isUpper(line[0]), isLower(line[1]), isLower(line[2]), line[3] == 0x20,
            line[9] == UInt8(ascii: ":"), line[12] == UInt8(ascii: ":"), line[15] == 0x20,
            let hostEnd = index(of: 0x20, in: line, from: 16, limit: 16 + 256),
            let colon = index(of: UInt8(ascii: ":"), in: line, from: hostEnd + 1, limit: hostEnd + 1 + 128),
            colon + 1 < line.count, line[colon + 1] == 0x20
        else { return 0 }
        return colon + 2
    }

    /// The Rails request-id tag of a Rails logger line (`… -- : [b3c1…] message`), if any.
    public static func requestID(_ line: Bytes, from start: Int) -> Range<Int>? {
        guard let at = find(railsTag, in: line, from: start, limit: start + 120) else { return nil }
        let open = at + railsTag.count
        guard let close = index(of: UInt8(ascii: "]"), in: line, from: open, limit: open + 80), close > open
        else { return nil }
        return open..<close
    }

    /// Sidekiq 6.5/7.x log a failed job as WARN lines from one thread (`pid=… tid=T … WARN: …`):
    /// the range of the `tid=T` token of such a line, so that the triple counts as one event.
    public static func sidekiqWarnThread(_ line: Bytes, from start: Int) -> Range<Int>? {
        guard let tid = find(sidekiqThread, in: line, from: start, limit: start + 160),
            find(sidekiqWarn, in: line, from: tid, limit: tid + 200) != nil
        else { return nil }
        var end = tid + sidekiqThread.count
        while end < line.count, line[end] != 0x20 { end += 1 }
        return (tid + 1)..<end
    }

    /// Whether the message is a backtrace frame or a continuation: it starts with whitespace, or with
    /// `from `, or it is a Ruby frame (`app/…rb:12:in …`, `/usr/…:12:in …`).
    public static func isContinuation(_ line: Bytes, from start: Int) -> Bool {
        guard start < line.count else { return false }
        if line[start] == 0x20 || line[start] == 0x09 { return true }
        if line.count - start >= 5, line[start] == UInt8(ascii: "f"), line[start + 1] == UInt8(ascii: "r"),
            line[start + 2] == UInt8(ascii: "o"), line[start + 3] == UInt8(ascii: "m"), line[start + 4] == 0x20
        {
            return true
        }
        // A Ruby frame: a path without spaces, then ":LINE:in ".
        guard let space = index(of: 0x20, in: line, from: start, limit: line.count), space > start + 4,
            line[space - 1] == UInt8(ascii: "n"), line[space - 2] == UInt8(ascii: "i"),
            line[space - 3] == UInt8(ascii: ":")
        else { return false }
        var j = space - 4
        var digits = 0
        while j > start, line[j] >= 0x30, line[j] <= 0x39 {
            j -= 1
            digits += 1
        }
        return digits > 0 && line[j] == UInt8(ascii: ":")
    }

    /// Whether two ranges of two lines hold the same bytes.
    public static func equal(_ a: Bytes, _ ra: Range<Int>, _ b: [UInt8]) -> Bool {
        guard ra.count == b.count else { return false }
        return b.withUnsafeBufferPointer { bb in
            guard let pa = a.baseAddress, let pb = bb.baseAddress else { return ra.isEmpty }
            return memcmp(pa + ra.lowerBound, pb, ra.count) == 0
        }
    }

    private static let railsTag: [UInt8] = Array(" -- : [".utf8)
    private static let sidekiqThread: [UInt8] = Array(" tid=".utf8)
    private static let sidekiqWarn: [UInt8] = Array(" WARN: ".utf8)

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
    private static func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    private static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }

    static func index(of byte: UInt8, in line: Bytes, from start: Int, limit: Int) -> Int? {
        let end = min(limit, line.count)
        guard start < end, let base = line.baseAddress, let found = memchr(base + start, Int32(byte), end - start)
        else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }

    static func find(_ needle: [UInt8], in line: Bytes, from start: Int, limit: Int) -> Int? {
        let end = min(limit, line.count)
        guard let base = line.baseAddress, !needle.isEmpty else { return nil }
        return needle.withUnsafeBufferPointer { n in
            var from = start
            while from + n.count <= end {
                guard let hit = memchr(base + from, Int32(n[0]), end - n.count + 1 - from) else { return nil }
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(base + at, n.baseAddress!, n.count) == 0 { return at }
                from = at + 1
            }
            return nil
        }
    }
}
