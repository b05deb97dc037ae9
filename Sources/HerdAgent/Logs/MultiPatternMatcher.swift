/// Finds every occurrence of many byte patterns in one pass over the input (Aho–Corasick).
///
/// The automaton is a dense table over byte classes: bytes that occur in no pattern share class 0, so
/// the table stays small (states × distinct pattern bytes) while each input byte costs one lookup.
public struct MultiPatternMatcher: Sendable {
    /// One occurrence: which pattern, and the offset just past its last byte.
    public struct Match: Sendable, Hashable {
        public var pattern: Int
        public var end: Int
        public init(pattern: Int, end: Int) {
            self.pattern = pattern
            self.end = end
        }
    }

    public let patterns: [[UInt8]]
    private let byteClass: [UInt8]
    private let classCount: Int
    /// `transitions[state * classCount + class]` is the next state, packed as `next << 1 | hasOutput`
    /// in 16 bits, so the table stays small enough for the cache: one load per input byte, and no
    /// output lookup unless the state ends a pattern.
    private let transitions: [UInt16]
    /// For each state, the range in `outputPatterns` of the patterns that end there (suffix links folded in).
    private let outputStart: [Int32]
    private let outputPatterns: [Int32]

    /// Builds the automaton. Patterns must be non-empty; the same pattern twice reports both indices.
    public init(patterns: [[UInt8]]) {
        precondition(patterns.allSatisfy { !$0.isEmpty }, "empty pattern")
        self.patterns = patterns

        var classes = [UInt8](repeating: 0, count: 256)
        var distinct = 0
        for pattern in patterns {
            for byte in pattern where classes[Int(byte)] == 0 && distinct < 255 {
                distinct += 1
                classes[Int(byte)] = UInt8(distinct)
            }
        }
        if distinct >= 255 {
            // Nearly every byte value occurs in some pattern: classes would not save anything.
            classes = (0...255).map { UInt8($0) }
            classCount = 256
        } else {
            classCount = distinct + 1
        }
        byteClass = classes

        // Trie.
        var goto: [[Int32]] = [[Int32](repeating: -1, count: classCount)]
        var outputs: [[Int32]] = [[]]
        for (index, pattern) in patterns.enumerated() {
            var state = 0
            for byte in pattern {
                let c = Int(byteClass[Int(byte)])
                if goto[state][c] < 0 {
                    goto[state][c] = Int32(goto.count)
                    goto.append([Int32](repeating: -1, count: classCount))
                    outputs.append([])
                }
                state = Int(goto[state][c])
            }
            outputs[state].append(Int32(index))
        }

        // Breadth-first: failure links, folded into a complete transition table.
        var fail = [Int32](repeating: 0, count: goto.count)
        var table = [Int32](repeating: 0, count: goto.count * classCount)
        var queue: [Int] = []
        for c in 0..<classCount {
            let child = goto[0][c]
            if child >= 0 {
                table[c] = child
                queue.append(Int(child))
            }
        }
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            outputs[state].append(contentsOf: outputs[Int(fail[state])])
            for c in 0..<classCount {
                let child = goto[state][c]
                if child >= 0 {
                    fail[Int(child)] = table[Int(fail[state]) * classCount + c]
                    table[state * classCount + c] = child
                    queue.append(Int(child))
                } else {
                    table[state * classCount + c] = table[Int(fail[state]) * classCount + c]
                }
            }
        }
        var starts: [Int32] = [0]
        var flat: [Int32] = []
        for output in outputs {
            flat.append(contentsOf: output)
            starts.append(Int32(flat.count))
        }
        outputStart = starts
        outputPatterns = flat
        let classCount = self.classCount
        precondition(goto.count < 1 << 15, "more than 32767 automaton states: too many signature bytes")
        transitions = table.map { next in
            UInt16(next) << 1 | (outputs[Int(next)].isEmpty ? 0 : 1)
        }
    }

    /// Calls `onMatch` for every occurrence of every pattern in `input`, in order of their end offset.
    public func scan(_ input: UnsafeBufferPointer<UInt8>, _ onMatch: (Match) -> Void) {
        transitions.withUnsafeBufferPointer { table in
            byteClass.withUnsafeBufferPointer { classes in
                var state = 0
                for (offset, byte) in input.enumerated() {
                    let entry = table[state &* classCount &+ Int(classes[Int(byte)])]
                    state = Int(entry >> 1)
                    if entry & 1 != 0 {
                        for i in Int(outputStart[state])..<Int(outputStart[state + 1]) {
                            onMatch(Match(pattern: Int(outputPatterns[i]), end: offset + 1))
                        }
                    }
                }
            }
        }
    }

    public func matches(in bytes: [UInt8]) -> [Match] {
        var found: [Match] = []
        bytes.withUnsafeBufferPointer { buffer in scan(buffer) { found.append($0) } }
        return found
    }

    /// Bytes of table the automaton holds, for the agent's memory budget.
    public var tableBytes: Int { transitions.count * 2 + outputPatterns.count * 4 + outputStart.count * 4 + 256 }
}
