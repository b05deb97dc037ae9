#if canImport(Glibc)
    import Glibc
#endif

/// Pure functions over one log line's bytes: strip ANSI colour codes, find where the message starts
/// after journald/syslog and docker prefixes, read a Rails request-id tag or a Sidekiq thread, recognise
/// backtrace lines. They work on buffers and allocate nothing, since they run on every line.
public enum LogLine {
    public typealias Bytes = UnsafeBufferPointer<UInt8>

    /// Calls `body` with `line` as it is when it holds no ESC byte (most lines), or else with a copy
    /// without its ANSI CSI sequences (`ESC [ params letter`), which Sidekiq 8 writes even into journald.
    /// The copy lives in temporary (usually stack) memory, so a stream of lines allocates nothing.
    public static func withoutANSI<R>(_ line: Bytes, _ body: (Bytes) -> R) -> R {
        guard let base = line.baseAddress, !line.isEmpty, memchr(base, 0x1B, line.count) != nil else {
            return body(line)
        }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: line.count) { out in
            body(UnsafeBufferPointer(rebasing: out[..<stripANSI(line, into: out)]))
        }
    }

    /// Copies `line` without CSI sequences into `out` (at least as long), copying the runs between
    /// escapes whole; returns the length copied.
    private static func stripANSI(_ line: Bytes, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let n = line.count
        var written = 0
        var copied = 0
        func copy(upTo end: Int) {
            guard end > copied else { return }
            _ = UnsafeMutableBufferPointer(rebasing: out[written...]).initialize(from: line[copied..<end])
            written += end - copied
        }
        var from = 0
        while let escape = index(of: 0x1B, in: line, from: from, limit: n) {
            var j = escape + 1
            from = j
            guard j < n, line[j] == UInt8(ascii: "[") else { continue }
            j += 1
            while j < n, (0x30...0x3F).contains(line[j]) { j += 1 }  // parameter bytes
            while j < n, (0x20...0x2F).contains(line[j]) { j += 1 }  // intermediate bytes
            guard j < n, (0x40...0x7E).contains(line[j]) else { continue }
            copy(upTo: escape)
            copied = j + 1
            from = copied
        }
        copy(upTo: n)
        return written
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

    /// A 64-bit fingerprint of `line[range]`, never 0, for telling whether two lines carry the same
    /// request id without keeping a copy of the first. Equal bytes give equal fingerprints; two ids
    /// that collide would only make two adjacent events count as one.
    static func fingerprint(_ line: Bytes, _ range: Range<Int>) -> UInt64 {
        guard let base = UnsafeRawPointer(line.baseAddress) else { return 1 }
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(range.count)
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            hash = (hash ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x0000_0100_0000_01B3
            hash ^= hash >> 29
            i += 8
        }
        while i < range.upperBound {
            hash = (hash ^ UInt64(line[i])) &* 0x0000_0100_0000_01B3
            i += 1
        }
        return hash | 1
    }

    /// Whether two ranges of two lines hold the same bytes.
    public static func equal(_ a: Bytes, _ ra: Range<Int>, _ b: [UInt8]) -> Bool {
        guard ra.count == b.count else { return false }
        return b.withUnsafeBufferPointer { bb in
            guard let pa = a.baseAddress, let pb = bb.baseAddress else { return ra.isEmpty }
            return memcmp(pa + ra.lowerBound, pb, ra.count) == 0
        }
    }

    private static let railsTag = Needle(" -- : [")
    private static let sidekiqThread = Needle(" tid=")
    private static let sidekiqWarn = Needle(" WARN: ")

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

    /// The first offset of `needle` in `line[start..<limit]`.
    static func find(_ needle: Needle, in line: Bytes, from start: Int, limit: Int) -> Int? {
        let end = min(limit, line.count)
        let anchor = needle.anchor
        guard let base = line.baseAddress else { return nil }
        let anchorByte = Int32(needle.bytes[anchor])
        var from = start + anchor
        let lastAnchor = end - needle.count + anchor
        while from <= lastAnchor {
            guard let hit = memchr(base + from, anchorByte, lastAnchor + 1 - from) else { return nil }
            let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) - anchor
            if hasPrefix(line, needle, at: at) { return at }
            from = at + anchor + 1
        }
        return nil
    }

    /// Whether `needle` occurs in `line` at `offset`. Compares inline: needles are a few bytes, and most
    /// comparisons fail on the first of them, where a call to `memcmp` would cost more than the work.
    static func hasPrefix(_ line: Bytes, _ needle: Needle, at offset: Int) -> Bool {
        guard offset >= 0, offset + needle.count <= line.count else { return false }
        for (i, byte) in needle.bytes.enumerated() where line[offset &+ i] != byte { return false }
        return true
    }

    /// A rough rank of how often a byte occurs in log text (0 rare … 4 very common): spaces, digits and
    /// lowercase letters are everywhere; the punctuation of key=value, paths and timestamps, and capitals
    /// (GET, HTTP, INFO) are common; a colon is mostly in timestamps, so the `::` of a Ruby class name is
    /// rare; brackets, quotes and other symbols are rarer still.
    static func commonness(_ byte: UInt8) -> Int {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "e"), UInt8(ascii: "t"),
            UInt8(ascii: "a"), UInt8(ascii: "o"), UInt8(ascii: "i"), UInt8(ascii: "n"), UInt8(ascii: "s"),
            UInt8(ascii: "r"):
            4
        case UInt8(ascii: "a")...UInt8(ascii: "z"): 3
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "="), UInt8(ascii: "/"), UInt8(ascii: "."),
            UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "\""), UInt8(ascii: ","):
            2
        case UInt8(ascii: ":"): 1
        default: 0
        }
    }
}

/// A literal to look for in log lines, with the byte `memchr` should skip ahead on: its rarest
/// (`LogLine.commonness`), since a needle that starts with a space would stop at every word.
struct Needle: Sendable {
    let bytes: [UInt8]
    let anchor: Int

    init(_ text: String) {
        let bytes = Array(text.utf8)
        precondition(!bytes.isEmpty, "empty needle")
        self.bytes = bytes
        anchor = bytes.indices.min { LogLine.commonness(bytes[$0]) < LogLine.commonness(bytes[$1]) }!
    }

    var count: Int { bytes.count }
}
