import HerdProtocol

/// The log classifier's table: which text means which category. Data, not code, so operators can add
/// lines for the shapes their fleet produces.
///
/// Format, one signature per line, tab-separated: `CATEGORY<TAB>SIGNATURE<TAB>PATTERN`. The pattern is
/// literal text; `*` between fragments means "anything in between, in this order" (`\*` is a literal
/// star, `\\` a backslash). Blank lines and lines starting with `#` are ignored. When several signatures
/// match one event, the first in table order wins, so specific lines go before general ones.
///
/// Signatures of category `unclassified_error` are severity markers (`ERROR`, nginx's `[error]`): they
/// say a line is an error without saying which. Every table keeps them after all the others, also when
/// tables are appended, so an operator's signature always wins over a built-in marker.
public struct SignatureTable: Sendable {
    public struct Signature: Sendable, Hashable {
        public var category: FindingCategory
        /// The name reported in findings, e.g. `ActiveRecord::ConnectionTimeoutError`.
        public var name: String
        /// Literal fragments that must all occur, in this order.
        public var fragments: [[UInt8]]
    }

    public static let maxSignatures = 2_000
    public static let maxFragmentBytes = 256

    public private(set) var signatures: [Signature]

    public init(signatures: [Signature]) {
        self.signatures =
            signatures.filter { $0.category != .unclassifiedError }
            + signatures.filter { $0.category == .unclassifiedError }
    }

    /// Parses a table; `source` names it in errors (a path, or "built-in").
    public static func parse(_ text: String, source: String) throws(SignatureTableError) -> SignatureTable {
        var signatures: [Signature] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) || line.hasPrefix("#") { continue }
            func fail(_ problem: String) -> SignatureTableError {
                SignatureTableError(source: source, line: number, problem: problem)
            }
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard columns.count == 3 else {
                throw fail("expected CATEGORY<TAB>SIGNATURE<TAB>PATTERN, found \(columns.count) column(s)")
            }
            let category = String(columns[0])
            let name = String(columns[1])
            do throws(WireError) {
                try Finding(category: FindingCategory(category), signature: name, count: 1).validate()
            } catch {
                throw fail(error.message)
            }
            let fragments = try fragments(of: columns[2], fail)
            signatures.append(Signature(category: FindingCategory(category), name: name, fragments: fragments))
            guard signatures.count <= maxSignatures else { throw fail("more than \(maxSignatures) signatures") }
        }
        return SignatureTable(signatures: signatures)
    }

    /// This table followed by `other`'s signatures (operators' files extend the built-in table), the
    /// severity markers of both after everything else.
    public func appending(_ other: SignatureTable) -> SignatureTable {
        SignatureTable(signatures: signatures + other.signatures)
    }

    private static func fragments(
        of pattern: Substring, _ fail: (String) -> SignatureTableError
    ) throws(SignatureTableError) -> [[UInt8]] {
        var fragments: [[UInt8]] = []
        var current: [UInt8] = []
        var escaped = false
        for byte in pattern.utf8 {
            if escaped {
                guard byte == UInt8(ascii: "*") || byte == UInt8(ascii: "\\") else {
                    throw fail("only \\* and \\\\ are escapes")
                }
                current.append(byte)
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "*") {
                if !current.isEmpty { fragments.append(current) }
                current = []
            } else {
                current.append(byte)
            }
        }
        guard !escaped else { throw fail("pattern ends in a lone backslash") }
        if !current.isEmpty { fragments.append(current) }
        guard !fragments.isEmpty else { throw fail("pattern has no literal text") }
        guard fragments.allSatisfy({ $0.count <= maxFragmentBytes }) else {
            throw fail("a pattern fragment is longer than \(maxFragmentBytes) bytes")
        }
        return fragments
    }
}

/// A signature table that cannot be used, with the line that is wrong.
public struct SignatureTableError: Error, Hashable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var problem: String
    public var description: String { "\(source):\(line): \(problem)" }
}
