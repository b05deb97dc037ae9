/// Pure functions over one log line's bytes: strip ANSI colour codes, find where the message starts
/// after journald/syslog and docker prefixes, read a Rails request-id tag, recognise backtrace lines.
public enum LogLine {
    /// Copies `line` into `out` without ANSI CSI sequences (`ESC [ params letter`), which Sidekiq 8
    /// writes even into journald.
    public static func stripANSI(_ line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
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
    public static func messageStart(_ line: [UInt8]) -> Int {
        // docker compose: NAME spaces "| "
        if let bar = firstIndex(of: UInt8(ascii: "|"), in: line, limit: 64), bar + 1 < line.count,
            line[bar + 1] == 0x20, bar > 0, line[bar - 1] == 0x20,
            line[..<bar].allSatisfy({ $0 == 0x20 || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || isAlnum($0) })
        {
            return bar + 2
        }
        // syslog: "Mmm dd hh:mm:ss host ident[pid]: " or "... ident: "
        guard line.count > 16, isUpper(line[0]), isLower(line[1]), isLower(line[2]), line[3] == 0x20,
            line[9] == UInt8(ascii: ":"), line[12] == UInt8(ascii: ":"), line[15] == 0x20
        else { return 0 }
        guard let hostEnd = firstIndex(of: 0x20, in: line, from: 16, limit: 16 + 256),
            let colon = firstIndex(of: UInt8(ascii: ":"), in: line, from: hostEnd + 1, limit: hostEnd + 1 + 128),
            colon + 1 < line.count, line[colon + 1] == 0x20
        else { return 0 }
        return colon + 2
    }

    /// The Rails request-id tag of a Rails logger line (`… -- : [b3c1…] message`), if any.
    public static func requestID(_ line: [UInt8], from start: Int) -> ArraySlice<UInt8>? {
        let marker = Array(" -- : [".utf8)
        guard let at = find(marker, in: Array(line.prefix(start + 120)), from: start) else { return nil }
        let open = at + marker.count
        guard let close = firstIndex(of: UInt8(ascii: "]"), in: line, from: open, limit: open + 80), close > open
        else { return nil }
        return line[open..<close]
    }

    /// Whether the message is a backtrace frame or a continuation: it starts with whitespace, or with
    /// `from `, or it is a Ruby frame (`app/…rb:12:in …`, `/usr/…:12:in …`).
    public static func isContinuation(_ line: [UInt8], from start: Int) -> Bool {
        guard start < line.count else { return false }
        if line[start] == 0x20 || line[start] == 0x09 { return true }
        if line[start...].starts(with: "from ".utf8) { return true }
        // A Ruby frame: PATH:LINE:in
        guard let colonIn = find(Array(":in ".utf8), in: line, from: start), colonIn > start else { return false }
        var j = colonIn - 1
        var digits = 0
        while j > start, line[j] >= 0x30, line[j] <= 0x39 {
            j -= 1
            digits += 1
        }
        return digits > 0 && line[j] == UInt8(ascii: ":")
            && !line[start..<j].contains(0x20)
    }

    /// Sidekiq 6.5/7.x log a failed job as WARN lines from one thread (`pid=… tid=T … WARN: …`):
    /// the `tid=T` token of such a line, so that the triple counts as one event.
    public static func sidekiqWarnThread(_ line: [UInt8], from start: Int) -> ArraySlice<UInt8>? {
        guard let tid = find(Array(" tid=".utf8), in: line, from: start),
            find(Array(" WARN: ".utf8), in: line, from: tid) != nil
        else { return nil }
        var end = tid + 5
        while end < line.count, line[end] != 0x20 { end += 1 }
        return line[(tid + 1)..<end]
    }

    private static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
    }
    private static func isUpper(_ b: UInt8) -> Bool { b >= 0x41 && b <= 0x5A }
    private static func isLower(_ b: UInt8) -> Bool { b >= 0x61 && b <= 0x7A }

    private static func firstIndex(of byte: UInt8, in line: [UInt8], from start: Int = 0, limit: Int) -> Int? {
        var i = start
        let end = min(limit, line.count)
        while i < end {
            if line[i] == byte { return i }
            i += 1
        }
        return nil
    }

    private static func find(_ needle: [UInt8], in line: [UInt8], from start: Int) -> Int? {
        guard line.count - start >= needle.count else { return nil }
        for i in start...(line.count - needle.count) where line[i] == needle[0] {
            if line[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}
