/// Field rules shared by every message's `validate()`. Each throws `invalid_field` naming the field path.
public enum Rule {
    /// `[a-z0-9][a-z0-9._-]*`, at most 64 bytes: ids, check ids, metric names, categories.
    public static func identifier(_ value: String, _ field: @autoclosure () -> String) throws(WireError) {
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= Limits.maxIdentifierBytes else {
            throw .invalid(field(), "must be 1 to \(Limits.maxIdentifierBytes) bytes")
        }
        var first = true
        for byte in bytes {
            let isLowerAlnum = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            let isPunct = byte == 0x2E || byte == 0x5F || byte == 0x2D
            guard isLowerAlnum || (!first && isPunct) else {
                throw .invalid(field(), "must match [a-z0-9][a-z0-9._-]*")
            }
            first = false
        }
    }

    /// A check as the controller stores it: an identifier, or for a split instance's host
    /// `IDENTIFIER@LABEL` (`disk@db-1`; both parts identifiers).
    public static func storedCheck(_ value: String, _ field: @autoclosure () -> String) throws(WireError) {
        let parts = value.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        for part in parts { try identifier(String(part), field()) }
    }

    public static func isStoredCheck(_ value: String) -> Bool {
        (try? storedCheck(value, "")) != nil
    }

    public static func isIdentifier(_ value: String) -> Bool {
        (try? identifier(value, "")) != nil
    }

    /// Whether `value` is a valid instance name (a lowercase DNS name).
    public static func isInstanceName(_ value: String) -> Bool {
        (try? domain(value, "instance")) != nil
    }

    /// A lowercase DNS name (LDH labels, punycode allowed): the instance's domain.
    static func domain(_ value: String, _ field: @autoclosure () -> String) throws(WireError) {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { throw .invalid(field(), "must be 1 to 253 bytes") }
        for label in bytes.split(separator: 0x2E, omittingEmptySubsequences: false) {
            guard !label.isEmpty, label.count <= 63, label.first != 0x2D, label.last != 0x2D,
                label.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D })
            else {
                throw .invalid(field(), "must be a lowercase DNS name (labels of a-z, 0-9 and inner '-')")
            }
        }
    }

    /// Printable text on one line: no control characters (tab included), bounded in bytes.
    public static func line(
        _ value: String, _ field: @autoclosure () -> String, maxBytes: Int, allowEmpty: Bool = false
    )
        throws(WireError)
    {
        let count = value.utf8.count
        guard count <= maxBytes else { throw .invalid(field(), "longer than \(maxBytes) bytes") }
        guard allowEmpty || count > 0 else { throw .invalid(field(), "must not be empty") }
        // UTF-8 never encodes a scalar above 0x7F with bytes below 0x80, so a byte scan suffices.
        for byte in value.utf8 where byte < 0x20 || byte == 0x7F {
            throw .invalid(field(), "must be one line without control characters")
        }
    }

    /// Text that may span lines (command output), bounded in bytes; NUL is refused.
    static func text(_ value: String, _ field: @autoclosure () -> String, maxBytes: Int) throws(WireError) {
        guard value.utf8.count <= maxBytes else { throw .invalid(field(), "longer than \(maxBytes) bytes") }
        guard !value.utf8.contains(0) else { throw .invalid(field(), "must not contain NUL") }
    }

    static func sequence(_ value: UInt64, _ field: @autoclosure () -> String) throws(WireError) {
        guard value >= 1, value <= Limits.maxSequence else {
            throw .invalid(field(), "must be between 1 and 2^53-1")
        }
    }

    static func count(_ count: Int, _ field: @autoclosure () -> String, max: Int) throws(WireError) {
        guard count <= max else { throw .invalid(field(), "more than \(max) entries") }
    }

    static func finite(_ value: Double, _ field: @autoclosure () -> String) throws(WireError) {
        guard value.isFinite else { throw .invalid(field(), "must be a finite number") }
    }
}
