/// Base64 as DSSE allows it: standard or URL-safe alphabet, padding optional on input; standard on output.
public enum Base64 {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Nil for anything that is not base64 (whitespace, a stray '=', a length of 4n+1).
    public static func decode(_ text: String) -> [UInt8]? {
        var utf8 = Array(text.utf8)
        while utf8.last == UInt8(ascii: "=") { utf8.removeLast() }
        guard text.utf8.count - utf8.count <= 2, utf8.count % 4 != 1 else { return nil }
        if text.utf8.count != utf8.count, text.utf8.count % 4 != 0 { return nil }
        var out = [UInt8](repeating: 0, count: utf8.count * 3 / 4)
        let ok = table.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { out in
                var accumulator: UInt32 = 0
                var bits = 0
                var written = 0
                for byte in utf8 {
                    let value = table[Int(byte)]
                    guard value != 0xFF else { return false }
                    accumulator = accumulator << 6 | UInt32(value)
                    bits += 6
                    if bits >= 8 {
                        bits -= 8
                        out[written] = UInt8(truncatingIfNeeded: accumulator >> UInt32(bits))
                        written += 1
                    }
                }
                return true
            }
        }
        return ok ? out : nil
    }

    /// Decoding table: both alphabets map to the same 6-bit values; 0xFF marks bytes that are not base64.
    private static let table: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (index, byte) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8.enumerated() {
            table[Int(byte)] = UInt8(index)
        }
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()
}
