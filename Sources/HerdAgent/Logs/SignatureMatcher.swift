/// Matches a line against every signature of a table in one pass over its bytes: one automaton holds
/// every fragment of every signature; the ordering of multi-fragment signatures is checked only for
/// signatures whose fragments all occurred.
public struct SignatureMatcher: Sendable {
    public let table: SignatureTable
    private let automaton: MultiPatternMatcher
    /// Rules out most lines before the automaton runs (nil when some signature is too short for it).
    private let filter: GramFilter?
    /// For each automaton pattern, the (signature, fragment index) pairs that use it.
    private let owners: [[(signature: Int, fragment: Int)]]

    public init(table: SignatureTable) {
        self.table = table
        var patterns: [[UInt8]] = []
        var index: [[UInt8]: Int] = [:]
        var owners: [[(signature: Int, fragment: Int)]] = []
        for (s, signature) in table.signatures.enumerated() {
            for (f, fragment) in signature.fragments.enumerated() {
                if let existing = index[fragment] {
                    owners[existing].append((s, f))
                } else {
                    index[fragment] = patterns.count
                    patterns.append(fragment)
                    owners.append([(s, f)])
                }
            }
        }
        self.owners = owners
        automaton = MultiPatternMatcher(patterns: patterns)
        filter = GramFilter(signatures: table.signatures.map(\.fragments))
    }

    /// The index of the first signature (in table order) that matches `line`, or nil.
    public func firstMatch(in line: UnsafeBufferPointer<UInt8>) -> Int? {
        var hits: [MultiPatternMatcher.Match] = []
        return firstMatch(in: line, scratch: &hits)
    }

    /// `firstMatch(in:)` reusing the caller's buffer for the hits, so a stream of lines allocates nothing.
    public func firstMatch(in line: UnsafeBufferPointer<UInt8>, scratch hits: inout [MultiPatternMatcher.Match]) -> Int?
    {
        if let filter, !filter.mayMatch(line) { return nil }
        hits.removeAll(keepingCapacity: true)
        automaton.scan(line) { hits.append($0) }
        guard !hits.isEmpty else { return nil }
        var best: Int?
        // Candidates: signatures one of whose fragments occurred.
        for hit in hits {
            for owner in owners[hit.pattern] where best.map({ owner.signature < $0 }) ?? true {
                if matchesInOrder(owner.signature, hits) { best = owner.signature }
            }
        }
        return best
    }

    public func firstMatch(in line: [UInt8]) -> Int? {
        line.withUnsafeBufferPointer { firstMatch(in: $0) }
    }

    /// Whether the signature's fragments occur in order, without overlapping, among `hits` (sorted by end).
    private func matchesInOrder(_ signature: Int, _ hits: [MultiPatternMatcher.Match]) -> Bool {
        let fragments = table.signatures[signature].fragments
        var position = 0
        var next = 0
        for hit in hits where next < fragments.count {
            let start = hit.end - fragments[next].count
            if start >= position, owners[hit.pattern].contains(where: { $0 == (signature, next) }) {
                position = hit.end
                next += 1
            }
        }
        return next == fragments.count
    }
}
