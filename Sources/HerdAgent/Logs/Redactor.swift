/// Makes a log line safe to leave the host as a finding's sample: one line, printable, at most
/// `maxBytes` (cut on a character boundary), with credentials masked — `password=…`, `token=…`,
/// `secret…=…`, `Authorization: Bearer …`, and `user:password@` in URLs.
public enum Redactor {
    public static let mask = "[REDACTED]"
    /// How much of a line `sample` looks at: enough for `maxBytes` of output after masking.
    public static let maxInputBytes = 2048
    static let keys = ["password", "passwd", "secret", "token", "api_key", "apikey", "bearer "].map { Array($0.utf8) }

    public static func sample(_ bytes: some Collection<UInt8>, maxBytes: Int = 512) -> String {
        var line = [UInt8]()
        line.reserveCapacity(min(bytes.count, maxBytes * 2))
        for byte in bytes.prefix(maxInputBytes) {
            line.append(byte < 0x20 || byte == 0x7F ? 0x20 : byte)
        }
        line = maskURLCredentials(maskKeyValues(line))
        var text = String(decoding: line, as: UTF8.self)  // invalid UTF-8 becomes U+FFFD
        while text.utf8.count > maxBytes { text.removeLast() }
        return text
    }

    /// `key=value`, `key: value`, `"key":"value"` → the value masked, for keys that name credentials.
    static func maskKeyValues(_ line: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(line.count)
        var i = 0
        while i < line.count {
            var matched: [UInt8]?
            for key in keys where i + key.count <= line.count {
                if zip(line[i..<(i + key.count)], key).allSatisfy({ lower($0) == $1 }) {
                    matched = key
                    break
                }
            }
            guard let key = matched else {
                out.append(line[i])
                i += 1
                continue
            }
            out.append(contentsOf: line[i..<(i + key.count)])
            i += key.count
            // Rest of the key name (e.g. "_digest"), then the separator, then the value. A key that ends
            // in a space ("bearer ") is followed by its value directly.
            while key.last != 0x20, i < line.count, isWordByte(line[i]) {
                out.append(line[i])
                i += 1
            }
            let separatorStart = i
            while i < line.count, [0x22, 0x27, 0x3A, 0x3D, 0x20].contains(line[i]), i - separatorStart < 4 {
                out.append(line[i])
                i += 1
            }
            guard i > separatorStart || key.last == 0x20 else { continue }
            let valueStart = i
            while i < line.count, ![0x20, 0x22, 0x27, 0x26, 0x2C, 0x3B, 0x7D].contains(line[i]) { i += 1 }
            if i > valueStart { out.append(contentsOf: mask.utf8) }
        }
        return out
    }

    /// `scheme://user:password@host` → `scheme://[REDACTED]@host`.
    static func maskURLCredentials(_ line: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        var i = 0
        while i < line.count {
            if i + 3 <= line.count, line[i] == 0x3A, line[i + 1] == 0x2F, line[i + 2] == 0x2F {
                out.append(contentsOf: line[i..<(i + 3)])
                i += 3
                var j = i
                while j < line.count, ![0x2F, 0x20, 0x40].contains(line[j]) { j += 1 }
                if j < line.count, line[j] == 0x40, line[i..<j].contains(0x3A) {
                    out.append(contentsOf: mask.utf8)
                    i = j
                }
                continue
            }
            out.append(line[i])
            i += 1
        }
        return out
    }

    private static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 0x20 : b }
    private static func isWordByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F
    }
}
