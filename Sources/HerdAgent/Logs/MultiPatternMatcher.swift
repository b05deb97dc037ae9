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

        // Trie, flat: `goto[state * classCount + class]`, -1 where there is no edge.
        let width = classCount
        var goto = [Int32](repeating: -1, count: width)
        var outputs: [[Int32]] = [[]]
        for (index, pattern) in patterns.enumerated() {
            var state = 0
            for byte in pattern {
                let edge = state * width + Int(byteClass[Int(byte)])
                if goto[edge] < 0 {
                    goto[edge] = Int32(outputs.count)
                    goto.append(contentsOf: repeatElement(-1, count: width))
                    outputs.append([])
                }
                state = Int(goto[edge])
            }
            outputs[state].append(Int32(index))
        }
        let stateCount = outputs.count

        // Breadth-first: failure links, folded into a complete transition table (in place of `goto`).
        var fail = [Int32](repeating: 0, count: stateCount)
        var queue: [Int] = []
        queue.reserveCapacity(stateCount)
        for c in 0..<width {
            if goto[c] >= 0 {
                queue.append(Int(goto[c]))
            } else {
                goto[c] = 0
            }
        }
        var head = 0
        while head < queue.count {
            let state = queue[head]
            head += 1
            let failure = Int(fail[state])
            if !outputs[failure].isEmpty { outputs[state].append(contentsOf: outputs[failure]) }
            for c in 0..<width {
                let child = goto[state * width + c]
                let viaFailure = goto[failure * width + c]
                if child >= 0 {
                    fail[Int(child)] = viaFailure
                    queue.append(Int(child))
                } else {
                    goto[state * width + c] = viaFailure
                }
            }
        }
        let table = goto
        var starts: [Int32] = [0]
        var flat: [Int32] = []
        for output in outputs {
            flat.append(contentsOf: output)
            starts.append(Int32(flat.count))
        }
        outputStart = starts
        outputPatterns = flat
        precondition(stateCount < 1 << 15, "more than 32767 automaton states: too many signature bytes")
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
