/// A prefilter that proves, for most log lines, that no signature can match — before the automaton runs.
///
/// Every signature contributes one 4-byte window ("gram") of one of its fragments: the window least
/// likely to occur in ordinary log text. A line can match the signature only if that gram occurs in it.
/// The filter does not look at every offset. Any occurrence of a 4-byte gram holds three 2-byte pairs,
/// at its offsets 0, 1 and 2, so one of them starts at a multiple of 3: the filter reads the pair at
/// every third offset of the line and looks it up in a 64 Kbit table of the grams' pairs (8 KiB, in L1).
/// Only where a pair is known does it check the (up to three) 4-byte windows that contain it against the
/// exact set of grams (open addressing, 16 KiB). Each lookup is an independent load (unlike the
/// automaton, whose next state waits on the previous one), so the CPU overlaps them, and lines without
/// any chosen gram — nearly all of a healthy log — never reach the automaton. Both tables are exact
/// about what they hold: a collision costs a probe, never a missed match.
struct GramFilter: Sendable {
    static let gramBytes = 4
    private static let tableBits = 12
    /// Grams as little-endian words; 0 marks an empty slot (a gram of four NUL bytes disables the filter).
    private var table = [UInt32](repeating: 0, count: 1 << tableBits)
    /// Bit `p` is set when the little-endian pair `p` occurs in some gram.
    private var pairs = [UInt64](repeating: 0, count: (1 << 16) / 64)
    /// The gram chosen for each signature, for tests and the benchmark's report.
    let grams: [[UInt8]]

    /// A filter for these signatures (each a list of fragments that must all occur), or nil when some
    /// signature has no fragment of at least `gramBytes` bytes: then no gram is certain to occur in its
    /// matches, and every line has to go to the automaton.
    init?(signatures: [[[UInt8]]]) {
        var grams: [[UInt8]] = []
        for fragments in signatures {
            var best: (score: Int, gram: ArraySlice<UInt8>)?
            for fragment in fragments where fragment.count >= Self.gramBytes {
                for start in 0...(fragment.count - Self.gramBytes) {
                    let gram = fragment[start..<(start + Self.gramBytes)]
                    let score = gram.reduce(0) { $0 + LogLine.commonness($1) }
                    if best.map({ score < $0.score }) ?? true { best = (score, gram) }
                }
            }
            guard let best else { return nil }
            grams.append(Array(best.gram))
        }
        self.grams = grams
        for gram in grams {
            let word = gram.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
            guard word != 0, grams.count < table.count / 2 else { return nil }
            var slot = Self.slot(word)
            while table[slot] != 0 && table[slot] != word { slot = (slot + 1) & (table.count - 1) }
            table[slot] = word
            for shift in stride(from: 0, through: 16, by: 8) {
                let pair = Int(truncatingIfNeeded: UInt16(truncatingIfNeeded: word >> UInt32(shift)))
                pairs[pair >> 6] |= 1 << UInt64(pair & 63)
            }
        }
    }

    /// False only when no chosen gram occurs in `line`; true means "maybe", and the automaton decides.
    func mayMatch(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        guard line.count >= Self.gramBytes, let base = UnsafeRawPointer(line.baseAddress) else { return false }
        return pairs.withUnsafeBufferPointer { pairs in
            table.withUnsafeBufferPointer { slots in
                let lastGram = line.count - Self.gramBytes
                let lastPair = line.count - 2
                var offset = 0
                while offset <= lastPair {
                    let pair = Int(truncatingIfNeeded: (base + offset).loadUnaligned(as: UInt16.self))
                    if pairs[pair &>> 6] & (1 &<< UInt64(pair & 63)) != 0 {
                        // The grams that hold this pair start 2, 1 or 0 bytes before it.
                        for start in max(0, offset - 2)...min(offset, lastGram) {
                            let word = (base + start).loadUnaligned(as: UInt32.self)
                            var slot = Self.slot(word)
                            while slots[slot] != 0 {
                                if slots[slot] == word { return true }
                                slot = (slot &+ 1) & (slots.count &- 1)
                            }
                        }
                    }
                    offset &+= 3
                }
                return false
            }
        }
    }

    @inline(__always)
    private static func slot(_ gram: UInt32) -> Int {
        Int((gram &* 0x9E37_79B1) &>> UInt32(32 - tableBits))
    }
}
