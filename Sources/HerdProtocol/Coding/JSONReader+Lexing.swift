/// Numbers and strings, byte by byte, by JSON's grammar.
extension JSONReader {
    struct ScannedNumber {
        var range: Range<Int>
        var negative: Bool
        /// All significant digits as an integer, nil when they do not fit in a UInt64.
        var mantissa: UInt64?
        /// The power of ten to apply to `mantissa`.
        var exponent10: Int
        var isInteger: Bool

        /// The number as the field that reads it converts it: small and exact, or kept as text.
        func json(in bytes: [UInt8]) -> JSONNumber {
            if let mantissa, mantissa < 1 << 53, (-22...22).contains(exponent10),
                range.count <= JSONReader.maxNumberBytes
            {
                return .small(mantissa: mantissa, exponent: Int8(exponent10), negative: negative, isInteger: isInteger)
            }
            return .text(String(decoding: bytes[range], as: UTF8.self))
        }
    }

    static let powersOfTen: [Double] = (0...22).map { exponent in
        var value = 1.0
        for _ in 0..<exponent { value *= 10 }
        return value
    }

    /// The longest number a known field takes (unknown fields skip any length).
    static let maxNumberBytes = 64

    /// Scans a number, checked against JSON's grammar, collecting its digits as it goes. Grammar is
    /// `malformed`; a grammatical number is refused only by the field that reads it (`invalid_field`,
    /// out of range), so a value in a field the receiver skips is never refused for its size.
    mutating func scanNumber() throws(WireError) -> ScannedNumber {
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
        return ScannedNumber(
            range: start..<index, negative: negative, mantissa: overflow ? nil : mantissa, exponent10: exponent10,
            isInteger: isInteger)
    }

    /// Parses a string starting at its opening quote.
    mutating func parseString() throws(WireError) -> String {
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

/// A number as written, converted only by the field that reads it, so that one in a field nobody reads
/// is never refused for its size (Protocol §2). Small: 16 bytes however long the document.
enum JSONNumber: Sendable {
    /// Significant digits under 2^53 and a power of ten within ±22: Clinger's fast path, exact.
    case small(mantissa: UInt64, exponent: Int8, negative: Bool, isInteger: Bool)
    /// Anything else, as written.
    case text(String)

    var isInteger: Bool {
        switch self {
        case .small(_, _, _, let isInteger): isInteger
        case .text(let text): !text.utf8.contains { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") }
        }
    }

    /// The value as a Double, correctly rounded; nil when longer than any field means
    /// (`maxNumberBytes`) or beyond a finite Double.
    var double: Double? {
        switch self {
        case .small(let mantissa, let exponent, let negative, _):
            let magnitude =
                exponent < 0
                ? Double(mantissa) / JSONReader.powersOfTen[Int(-exponent)]
                : Double(mantissa) * JSONReader.powersOfTen[Int(exponent)]
            return negative ? -magnitude : magnitude
        case .text(let text):
            guard text.utf8.count <= JSONReader.maxNumberBytes, let value = Double(text), value.isFinite else {
                return nil
            }
            return value
        }
    }

    /// The value as a `T`, for a number written as an integer; nil when `T` cannot hold it.
    func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
        switch self {
        case .small(let mantissa, _, let negative, let isInteger):
            guard isInteger else { return nil }
            guard negative else { return T(exactly: mantissa) }
            if mantissa == 0 { return 0 }
            return T.isSigned ? T(exactly: -Int64(mantissa)) : nil
        case .text(let text):
            guard isInteger, text.utf8.count <= JSONReader.maxNumberBytes else { return nil }
            return T(text, radix: 10)
        }
    }
}
