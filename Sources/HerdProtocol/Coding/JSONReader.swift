/// A strict, single-pass JSON pull parser (RFC 8259): `JSONCodable` reads every document Herd declares
/// through it, and the agent pulls the few fields it needs from others' formats (journald, Sidekiq,
/// Mastodon) with it, skipping the rest without materialising it.
///
/// Every error is a `malformed` `WireError` naming the path (`results[2]: expected a string`). It
/// refuses what a lenient parser would guess at: duplicate keys, raw control characters in strings,
/// invalid UTF-8, lone surrogates, leading zeros, trailing garbage, and nesting deeper than
/// `Limits.maxJSONDepth`.
public struct JSONReader {
    let bytes: [UInt8]
    var index = 0
    private var depth = 0
    private var path: [PathComponent] = []
    /// Keys of the objects being read, innermost last; `objectStarts` marks where each object begins.
    private var seenKeys: [String] = []
    private var objectStarts: [Int] = []

    private enum PathComponent {
        case key(String)
        case index(Int)
    }

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    // MARK: Errors

    /// A `malformed` error naming where the reader is.
    public func error(_ problem: String) -> WireError {
        WireError(.malformed, "\(pathDescription): \(problem)")
    }

    var pathDescription: String {
        var out = ""
        for component in path {
            switch component {
            case .key(let key): out += out.isEmpty ? key : ".\(key)"
            case .index(let index): out += "[\(index)]"
            }
        }
        return out.isEmpty ? "(root)" : out
    }

    /// Unwraps a required field read from the current object.
    public func required<T>(_ value: T?, _ key: String) throws(WireError) -> T {
        guard let value else {
            throw WireError(.malformed, path.isEmpty ? "\(key): missing" : "\(pathDescription).\(key): missing")
        }
        return value
    }

    // MARK: Structure

    /// Reads an object, calling `body` once per key with the reader positioned at that key's value.
    /// `body` must consume the value (read it or `skipValue()`).
    public mutating func readObject(_ body: (inout JSONReader, String) throws(WireError) -> Void) throws(WireError) {
        try expect(UInt8(ascii: "{"), "expected an object")
        try enter()
        objectStarts.append(seenKeys.count)
        defer {
            seenKeys.removeSubrange(objectStarts.removeLast()...)
            depth -= 1
        }
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try parseString()
            if seenKeys[objectStarts.last!...].contains(key) { throw error("duplicate key '\(key)'") }
            seenKeys.append(key)
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "expected ':' after key '\(key)'")
            skipWhitespace()
            path.append(.key(key))
            try body(&self, key)
            path.removeLast()
            skipWhitespace()
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "}"): return
            default: throw error("expected ',' or '}' after '\(key)'")
            }
        }
    }

    /// Reads an array of at most `maxCount` elements, calling `body` for each.
    public mutating func readArray(maxCount: Int, _ body: (inout JSONReader) throws(WireError) -> Void)
        throws(WireError)
    {
        skipWhitespace()
        try expect(UInt8(ascii: "["), "expected an array")
        try enter()
        defer { depth -= 1 }
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        var count = 0
        while true {
            guard count < maxCount else {
                throw WireError(.invalidField, "\(pathDescription): more than \(maxCount) entries")
            }
            skipWhitespace()
            path.append(.index(count))
            try body(&self)
            path.removeLast()
            count += 1
            skipWhitespace()
            switch next() {
            case UInt8(ascii: ","): continue
            case UInt8(ascii: "]"): return
            default: throw error("expected ',' or ']'")
            }
        }
    }

    /// Checks that only whitespace follows the top-level value.
    public mutating func finish() throws(WireError) {
        skipWhitespace()
        guard index == bytes.count else { throw WireError(.malformed, "unexpected bytes after the JSON value") }
    }

    // MARK: Scalars

    public mutating func readString() throws(WireError) -> String {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { throw error("expected a string") }
        return try parseString()
    }

    public mutating func readBool() throws(WireError) -> Bool {
        skipWhitespace()
        if consume("true") { return true }
        if consume("false") { return false }
        throw error("expected a boolean")
    }

    /// True (and consumed) when the next value is `null`.
    public mutating func readNull() -> Bool {
        skipWhitespace()
        return consume("null")
    }

    public mutating func readDouble() throws(WireError) -> Double {
        try double(try scanNumber())
    }

    /// A number, and whether it was written as an integer (no fraction, no exponent): for formats
    /// that changed units along with the notation (Sidekiq 8's integer milliseconds vs float seconds).
    public mutating func readNumber() throws(WireError) -> (value: Double, writtenAsInteger: Bool) {
        let number = try scanNumber()
        return (try double(number), number.isInteger)
    }

    /// A grammatical number this field cannot take: too long to be one it means, or beyond a finite
    /// Double. One rule for every field (Protocol §2): `invalid_field`.
    private func outOfRange() -> WireError {
        WireError(.invalidField, "\(pathDescription): number out of range")
    }

    private func double(_ number: ScannedNumber) throws(WireError) -> Double {
        guard let value = number.json(in: bytes).double else { throw outOfRange() }
        return value
    }

    /// An integer in `range`; fractions and exponents are refused.
    public mutating func readInteger<T: FixedWidthInteger>(_: T.Type, in range: ClosedRange<T>) throws(WireError) -> T {
        let number = try scanNumber()
        guard number.isInteger else { throw error("expected an integer") }
        guard let value = number.json(in: bytes).integer(T.self), range.contains(value) else {
            throw WireError(
                .invalidField, "\(pathDescription): must be between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// The kind of value that comes next, without consuming it; nil at the end of the input.
    public enum ValueKind: Sendable { case object, array, string, number, boolean, null }

    public mutating func peekKind() -> ValueKind? {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean
        case UInt8(ascii: "n"): return .null
        case nil: return nil
        default: return .number
        }
    }

    /// Skips any value, for keys this version does not know (forward compatibility).
    public mutating func skipValue() throws(WireError) {
        skipWhitespace()
        switch peek() {
        case UInt8(ascii: "{"): try readObject { r, _ throws(WireError) in try r.skipValue() }
        case UInt8(ascii: "["): try readArray(maxCount: .max) { r throws(WireError) in try r.skipValue() }
        case UInt8(ascii: "\""): _ = try parseString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try readBool()
        case UInt8(ascii: "n"): if !readNull() { throw error("invalid literal") }
        default: _ = try scanNumber()
        }
    }

    // MARK: Lexing

    private mutating func enter() throws(WireError) {
        depth += 1
        guard depth <= Limits.maxJSONDepth else {
            throw WireError(.malformed, "JSON nested deeper than \(Limits.maxJSONDepth) levels")
        }
    }

    func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func expect(_ byte: UInt8, _ problem: @autoclosure () -> String) throws(WireError) {
        skipWhitespace()
        guard let b = next() else { throw error("unexpected end of input") }
        guard b == byte else { throw error(problem()) }
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func consume(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { literalBytes in
            for offset in 0..<count where bytes[index + offset] != literalBytes[offset] { return false }
            return true
        }
        if matches { index += count }
        return matches
    }
}
