/// Base64 as DSSE allows it: standard or URL-safe alphabet, padding optional on input; standard on output.
public enum Base64 {
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Nil for anything that is not base64 (whitespace included).
    public static func decode(_ text: String) -> [UInt8]? {
        var normalized = [UInt8]()
        normalized.reserveCapacity(text.utf8.count + 3)
        for byte in text.utf8 {
            switch byte {
            case 0x2D: normalized.append(0x2B)  // '-' → '+'
            case 0x5F: normalized.append(0x2F)  // '_' → '/'
            default: normalized.append(byte)
            }
        }
        while normalized.count % 4 != 0 { normalized.append(0x3D) }
        guard let data = Data(base64Encoded: Data(normalized)) else { return nil }
        return Array(data)
    }
}
