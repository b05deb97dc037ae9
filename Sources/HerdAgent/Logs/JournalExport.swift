import HerdProtocol

/// One line of `journalctl -o json`: the fields the agent uses. journald writes `MESSAGE` as a string,
/// or as an array of byte values when it is not valid UTF-8; both are accepted.
public struct JournalEntry: Sendable, Hashable {
    public var message: [UInt8]
    public var unit: String?
    public var cursor: String?
    /// syslog's priority, 0 (emerg) … 7 (debug); journald writes it as a string.
    public var priority: Int?

    /// Priority 3 (err) or more severe.
    public var isError: Bool { priority.map { $0 <= 3 } ?? false }

    /// Whether `line` holds journald's `"MESSAGE":` key at all: a cheap look before a parse.
    public static func mightBeOne(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        LogLine.find(messageKey, in: line, from: 0, limit: line.count) != nil
    }

    private static let messageKey = Needle("\"MESSAGE\":")

    public static func parse(_ line: UnsafeBufferPointer<UInt8>) throws(WireError) -> JournalEntry {
        var reader = JSONReader(Array(line))
        var message: [UInt8]?
        var unit: String?
        var cursor: String?
        var priority: Int?
        try reader.readObject { r, key throws(WireError) in
            switch key {
            case "MESSAGE":
                switch r.peekKind() {
                case .array:
                    var bytes: [UInt8] = []
                    try r.readArray(maxCount: LineReader.defaultMaxLineBytes) { r throws(WireError) in
                        bytes.append(try r.readInteger(UInt8.self, in: 0...255))
                    }
                    message = bytes
                case .null:
                    _ = r.readNull()
                    message = []
                default:
                    message = Array(try r.readString().utf8)
                }
            case "_SYSTEMD_UNIT": unit = try r.readString()
            case "__CURSOR": cursor = try r.readString()
            case "PRIORITY": priority = Int(try r.readString()).flatMap { (0...7).contains($0) ? $0 : nil }
            default: try r.skipValue()
            }
        }
        try reader.finish()
        return JournalEntry(
            message: try reader.required(message, "MESSAGE"), unit: unit, cursor: cursor, priority: priority)
    }
}
