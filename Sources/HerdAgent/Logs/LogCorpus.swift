import FoundationEssentials
import HerdProtocol

/// A labelled corpus of real error output (Tests/HerdAgentTests/Fixtures/real-world/) and how the
/// classifier scores on it. One file per excerpt: `source: URL`, `label: CATEGORY`, `---`, then the
/// excerpt as it was posted. Labels follow Agent/log-categories.md, which also says how an answer is read.
public enum LogCorpus {
    public struct Excerpt: Sendable, Hashable {
        public var name: String
        public var source: String
        public var label: FindingCategory
        public var lines: [[UInt8]]
    }

    public struct Malformed: Error, CustomStringConvertible {
        public var description: String
    }

    public static let maxExcerptLines = 40

    /// Every `*.log` of `directory`, sorted by name.
    public static func load(directory: String) throws -> [Excerpt] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
        return try names.sorted().map { name in
            let bytes = try HostFilesystem().read(directory + "/" + name, maxBytes: 1 << 20)
            return try parse(Array(bytes), name: name)
        }
    }

    public static func parse(_ bytes: [UInt8], name: String) throws(Malformed) -> Excerpt {
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if lines.last == [] { lines.removeLast() }
        func header(_ index: Int, _ key: String) throws(Malformed) -> String {
            let prefix = key + ": "
            guard index < lines.count, let text = String(validating: lines[index], as: UTF8.self),
                text.hasPrefix(prefix), text.count > prefix.count
            else { throw Malformed(description: "\(name): line \(index + 1) must be `\(prefix)…`") }
            return String(text.dropFirst(prefix.count))
        }
        let source = try header(0, "source")
        let label = FindingCategory(try header(1, "label"))
        guard source.hasPrefix("https://") else { throw Malformed(description: "\(name): source is not an https URL") }
        guard FindingCategory.known.contains(label) else {
            throw Malformed(description: "\(name): label \(label) is not in Agent/log-categories.md")
        }
        guard lines.count > 3, lines[2] == Array("---".utf8) else {
            throw Malformed(description: "\(name): line 3 must be `---`, followed by the excerpt")
        }
        let excerpt = Array(lines[3...])
        guard excerpt.count <= maxExcerptLines else {
            throw Malformed(description: "\(name): \(excerpt.count) lines; an excerpt has at most \(maxExcerptLines)")
        }
        return Excerpt(name: name, source: source, label: label, lines: excerpt)
    }

    /// What the classifier made of one excerpt.
    public struct Answer: Sendable, Hashable {
        public var excerpt: String
        public var label: FindingCategory
        /// Nil: no finding at all, the excerpt was called healthy.
        public var predicted: FindingCategory?
        public var findings: [Finding]
        public var right: Bool { predicted == label }
    }

    /// Classifies an excerpt as `herd-agent scan-log` would, and reads the answer as
    /// Agent/log-categories.md says: the category of the finding that comes first in the table's order
    /// (the cause before its symptoms); `unclassified_error` only when nothing else was found.
    public static func answer(_ excerpt: Excerpt, matcher: SignatureMatcher) -> Answer {
        var scan = ApplicationLogsCheck.Scan(matcher: matcher)
        for (index, line) in excerpt.lines.enumerated() {
            line.withUnsafeBufferPointer { _ = scan.feed(anyLine: $0, number: index + 1, journal: .recognised) }
        }
        let findings = scan.tallies().map(\.finding)
        // A finding's place: its signature's; a finding no signature made (`HTTP 500 <class>`), its
        // category's first; an unrecognised error's marker, after everything.
        let signatures = matcher.table.signatures.enumerated()
        let bySignature = Dictionary(signatures.map { ($0.element.name, $0.offset) }, uniquingKeysWith: min)
        let byCategory = Dictionary(signatures.map { ($0.element.category, $0.offset) }, uniquingKeysWith: min)
        func rank(_ finding: Finding) -> Int {
            finding.category == .unclassifiedError
                ? .max : bySignature[finding.signature] ?? byCategory[finding.category] ?? .max - 1
        }
        let predicted = findings.min { rank($0) < rank($1) }?.category
        return Answer(excerpt: excerpt.name, label: excerpt.label, predicted: predicted, findings: findings)
    }

    /// Per-category precision and recall, the confusion matrix, accuracy and detection.
    public struct Scorecard: Sendable {
        public var answers: [Answer]

        public init(_ excerpts: [Excerpt], matcher: SignatureMatcher = SignatureMatcher(table: .builtIn)) {
            answers = excerpts.map { LogCorpus.answer($0, matcher: matcher) }
        }

        public var accuracy: Double { ratio(answers.filter(\.right).count, answers.count) }
        /// The share of excerpts with at least one finding (the rest were called healthy).
        public var detection: Double { ratio(answers.filter { $0.predicted != nil }.count, answers.count) }

        /// Labels and predictions that occur, in Agent/log-categories.md's order.
        public var categories: [FindingCategory] {
            let seen = Set(answers.map(\.label) + answers.compactMap(\.predicted))
            return FindingCategory.known.filter(seen.contains)
                + seen.subtracting(FindingCategory.known).sorted {
                    $0.rawValue < $1.rawValue
                }
        }

        public func recall(_ category: FindingCategory) -> Double? {
            let labelled = answers.filter { $0.label == category }
            return labelled.isEmpty ? nil : ratio(labelled.filter(\.right).count, labelled.count)
        }

        public func precision(_ category: FindingCategory) -> Double? {
            let predicted = answers.filter { $0.predicted == category }
            return predicted.isEmpty ? nil : ratio(predicted.filter(\.right).count, predicted.count)
        }

        /// The markdown tables BENCHMARKS.md holds: per category, then the confusion matrix (rows:
        /// labels, columns: predictions, `—` for called healthy).
        public func markdown() -> String {
            func percent(_ value: Double?) -> String { value.map { "\(Int(($0 * 100).rounded())) %" } ?? "–" }
            var out = "| category | excerpts | recall | precision |\n|---|---:|---:|---:|\n"
            for category in categories {
                let count = answers.filter { $0.label == category }.count
                out += "| `\(category)` | \(count) | \(percent(recall(category))) | \(percent(precision(category))) |\n"
            }
            out += "\nConfusion (rows: label; columns: prediction; only non-zero cells off the diagonal):\n\n"
            let wrong = Dictionary(grouping: answers.filter { !$0.right }) {
                "\($0.label) → \($0.predicted?.rawValue ?? "— (healthy)")"
            }
            if wrong.isEmpty { out += "- none\n" }
            for (pair, list) in wrong.sorted(by: { $0.key < $1.key }) {
                out += "- \(pair): \(list.count) (\(list.map(\.excerpt).joined(separator: ", ")))\n"
            }
            return out
        }

        private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
    }
}
