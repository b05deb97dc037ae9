/// A strict, single-pass JSON pull parser for protocol messages (RFC 8259).
///
/// Messages read their own fields through it, so nothing is built that is not kept, unknown keys are
/// skipped without being materialised, and every error is a `malformed` `WireError` naming the path
/// (`results[2].status: expected one of ok, warning, critical, unknown`). It refuses what a lenient
/// parser would guess at: duplicate keys, raw control characters in strings, invalid UTF-8, lone
/// surrogates, leading zeros, trailing garbage, and nesting deeper than `Limits.maxJSONDepth`.
public struct JSONReader {
    private let bytes: [UInt8]
    private var index = 0
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

    /// Reads an array of messages.
    public mutating func readArray<T: WireMessage>(of type: T.Type, maxCount: Int) throws(WireError) -> [T] {
        var out: [T] = []
        try readArray(maxCount: maxCount) { r throws(WireError) in out.append(try T(json: &r)) }
        return out
    }

    /// Reads an object of `String` keys to values, at most `maxCount` entries.
    public mutating func readDictionary<V>(
        maxCount: Int, _ value: (inout JSONReader) throws(WireError) -> V
    ) throws(WireError) -> [String: V] {
        var out: [String: V] = [:]
        try readObject { r, key throws(WireError) in
            guard out.count < maxCount else {
                throw WireError(.invalidField, "\(r.pathDescription): more than \(maxCount) entries")
            }
            out[key] = try value(&r)
        }
        return out
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
        let number = try scanNumber()
        // Clinger's fast path: an exact mantissa and an exact power of ten give a correctly rounded result.
        if let mantissa = number.mantissa, mantissa < 1 << 53, (-22...22).contains(number.exponent10) {
            let magnitude =
                number.exponent10 < 0
                ? Double(mantissa) / Self.powersOfTen[-number.exponent10]
                : Double(mantissa) * Self.powersOfTen[number.exponent10]
            return number.negative ? -magnitude : magnitude
        }
        guard let value = Double(String(decoding: bytes[number.range], as: UTF8.self)), value.isFinite else {
            throw error("number out of range")
        }
        return value
    }

    /// An integer in `range`; fractions and exponents are refused.
    public mutating func readInteger<T: FixedWidthInteger>(_: T.Type, in range: ClosedRange<T>) throws(WireError) -> T {
        let number = try scanNumber()
        guard number.isInteger else { throw error("expected an integer") }
        let outOfRange = WireError(
            .invalidField, "\(pathDescription): must be between \(range.lowerBound) and \(range.upperBound)")
        guard let mantissa = number.mantissa else { throw outOfRange }
        let value: T?
        if number.negative {
            value =
                mantissa == 0
                ? 0 : (T.isSigned && mantissa <= UInt64(T.max) + 1 ? T(truncatingIfNeeded: 0 &- mantissa) : nil)
        } else {
            value = T(exactly: mantissa)
        }
        guard let value, range.contains(value) else { throw outOfRange }
        return value
    }

    /// An RFC 3339 timestamp string.
    public mutating func readDate() throws(WireError) -> Date {
        let text = try readString()
        guard let date = WireTime.parse(text) else { throw error("not an RFC 3339 timestamp") }
        return date
    }

    /// A string that must be one of an enum's raw values.
    public mutating func readEnum<E: RawRepresentable & CaseIterable>(_: E.Type) throws(WireError) -> E
    where E.RawValue == String {
        let text = try readString()
        guard let value = E(rawValue: text) else {
            throw error("expected one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// Base64 (standard or URL-safe) decoded to bytes.
    public mutating func readBase64() throws(WireError) -> [UInt8] {
        guard let bytes = Base64.decode(try readString()) else { throw error("not base64") }
        return bytes
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

    private func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    private mutating func next() -> UInt8? {
        guard index < bytes.count else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    private mutating func expect(_ byte: UInt8, _ problem: @autoclosure () -> String) throws(WireError) {
        skipWhitespace()
        guard let b = next() else { throw error("unexpected end of input") }
        guard b == byte else { throw error(problem()) }
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    private mutating func consume(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let matches = literal.withUTF8Buffer { literalBytes in
            for offset in 0..<count where bytes[index + offset] != literalBytes[offset] { return false }
            return true
        }
        if matches { index += count }
        return matches
    }

    private struct ScannedNumber {
        var range: Range<Int>
        var negative: Bool
        /// All significant digits as an integer, nil when they do not fit in a UInt64.
        var mantissa: UInt64?
        /// The power of ten to apply to `mantissa`.
        var exponent10: Int
        var isInteger: Bool
    }

    private static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// Scans a number, checked against JSON's grammar, collecting its digits as it goes.
    private mutating func scanNumber() throws(WireError) -> ScannedNumber {
        skipWhitespace()
        let start = index
        var mantissa: UInt64 = 0
        var significant = 0
        var overflow = false
        var exponent10 = 0
        func digit(_ b: UInt8) {
            if significant == 0 && b == 0x30 { return }
            guard !overflow else { return }
            let (times10, o1) = mantissa.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(UInt64(b - 0x30))
            if o1 || o2 {
                overflow = true
            } else {
                mantissa = next
                significant += 1
            }
        }
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }
        let integerStart = index
        while let b = peek(), b >= 0x30, b <= 0x39 {
            digit(b)
            if overflow { exponent10 += 1 }
            index += 1
        }
        guard index > integerStart else { throw error(start == bytes.count ? "unexpected end" : "expected a number") }
        guard index - integerStart == 1 || bytes[integerStart] != UInt8(ascii: "0") else { throw error("leading zero") }
        var isInteger = true
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            index += 1
            let fractionStart = index
            while let b = peek(), b >= 0x30, b <= 0x39 {
                let before = significant
                digit(b)
                if !overflow && (significant > before || mantissa == 0) { exponent10 -= 1 }
                index += 1
            }
            guard index > fractionStart else { throw error("expected digits after '.'") }
        }
        if let e = peek(), e | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            index += 1
            var exponentNegative = false
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                exponentNegative = sign == UInt8(ascii: "-")
                index += 1
            }
            let exponentStart = index
            var exponent = 0
            while let b = peek(), b >= 0x30, b <= 0x39 {
                exponent = min(exponent * 10 + Int(b - 0x30), 100_000)
                index += 1
            }
            guard index > exponentStart else { throw error("expected digits in exponent") }
            exponent10 += exponentNegative ? -exponent : exponent
        }
        guard index - start <= 64 else { throw error("number too long") }
        return ScannedNumber(
            range: start..<index, negative: negative, mantissa: overflow ? nil : mantissa, exponent10: exponent10,
            isInteger: isInteger)
    }

    /// Parses a string starting at its opening quote.
    private mutating func parseString() throws(WireError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let b = bytes[index]
            if b == UInt8(ascii: "\"") {
                defer { index += 1 }
                return try makeString(start..<index)
            }
            if b == UInt8(ascii: "\\") { break }
            guard b >= 0x20 else { throw error("control character in string") }
            index += 1
        }
        var out = Array(bytes[start..<index])
        while true {
            guard let b = next() else { throw error("unterminated string") }
            switch b {
            case UInt8(ascii: "\""):
                guard let text = Self.validatedString(out[...]) else { throw error("string is not valid UTF-8") }
                return text
            case UInt8(ascii: "\\"):
                guard let escaped = next() else { throw error("unterminated string") }
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escaped)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard consume("\\u") else { throw error("lone surrogate in string") }
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw error("lone surrogate in string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("lone surrogate in string")
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw error("invalid escape in string")
                }
            default:
                guard b >= 0x20 else { throw error("control character in string") }
                out.append(b)
            }
        }
    }

    private func makeString(_ range: Range<Int>) throws(WireError) -> String {
        guard let text = Self.validatedString(bytes[range]) else { throw error("string is not valid UTF-8") }
        return text
    }

    /// A String from UTF-8 bytes, nil if they are not valid UTF-8. ASCII, the common case, skips the validator.
    private static func validatedString(_ slice: ArraySlice<UInt8>) -> String? {
        slice.withUnsafeBufferPointer { buffer in
            var isASCII = true
            for byte in buffer where byte >= 0x80 {
                isASCII = false
                break
            }
            if isASCII { return String(decoding: buffer, as: UTF8.self) }
            return String(validating: buffer, as: UTF8.self)
        }
    }

    private mutating func hex4() throws(WireError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let b = next() else { throw error("unterminated string") }
            let digit: UInt8
            switch b {
            case 0x30...0x39: digit = b - 0x30
            case 0x41...0x46: digit = b - 0x41 + 10
            case 0x61...0x66: digit = b - 0x61 + 10
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
