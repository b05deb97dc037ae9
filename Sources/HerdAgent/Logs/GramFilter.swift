/// A prefilter that proves, for most log lines, that no signature can match — before the automaton runs.
///
/// Every signature contributes one 4-byte window ("gram") of one of its fragments: the window least
/// likely to occur in ordinary log text, judged by how often its byte pairs occur in `OrdinaryLogText`
/// (a sample of what healthy hosts log) and how common its bytes are. A line can match the signature
/// only if that gram occurs in it.
/// The filter does not look at every offset. Any occurrence of a 4-byte gram holds three 2-byte pairs,
/// at its offsets 0, 1 and 2, so one of them starts at a multiple of 3: the filter reads the pair at
/// every third offset of the line and looks it up in a table of the grams' pairs (a byte per pair,
/// 64 KiB; the pairs of real text are few, so the lines it touches stay in cache). The lookups go four
/// at a time, combined with one OR, so a line without a known pair costs about four instructions per
/// three bytes. Only where a pair is known does it check the (up to three) 4-byte windows that contain
/// it against the exact set of grams (open addressing, 16 KiB). Each lookup is an independent load
/// (unlike the automaton, whose next state waits on the previous one), so the CPU overlaps them, and
/// lines without any chosen gram — nearly all of a healthy log — never reach the automaton. Both tables
/// are exact about what they hold: a collision costs a probe, never a missed match.
struct GramFilter: Sendable {
    static let gramBytes = 4
    private static let tableBits = 12
    /// Grams as little-endian words; 0 marks an empty slot (a gram of four NUL bytes disables the filter).
    private var table = [UInt32](repeating: 0, count: 1 << tableBits)
    /// Nonzero when the little-endian pair `p` occurs in some gram.
    private var pairs = [UInt8](repeating: 0, count: 1 << 16)
    /// The gram chosen for each signature, for tests and the benchmark's report.
    let grams: [[UInt8]]

    /// A filter for these signatures (each a list of fragments that must all occur), or nil when some
    /// signature has no fragment of at least `gramBytes` bytes: then no gram is certain to occur in its
    /// matches, and every line has to go to the automaton.
    init?(signatures: [[[UInt8]]]) {
        let ordinary = Self.pairCounts(OrdinaryLogText.sample.utf8)
        // The pairs ordinary lines are fullest of: a gram holding one is looked at on nearly every line.
        let commonest = Set(ordinary.indices.sorted { ordinary[$0] > ordinary[$1] }.prefix(20))
        // Grams that ordinary lines hold whole ("::Ti" of `::Timelines`, "Work" of `DeliveryWorker`):
        // a signature whose every gram is among them is the only way a healthy line gets through.
        let sample = Array(OrdinaryLogText.sample.utf8)
        var seen = Set<UInt32>()
        for i in 0..<max(0, sample.count - Self.gramBytes + 1) {
            seen.insert(sample[i..<(i + Self.gramBytes)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        }
        var grams: [[UInt8]] = []
        for fragments in signatures {
            var best: (score: Int, gram: ArraySlice<UInt8>)?
            for fragment in fragments where fragment.count >= Self.gramBytes {
                for start in 0...(fragment.count - Self.gramBytes) {
                    let gram = fragment[start..<(start + Self.gramBytes)]
                    // Few pairs that ordinary lines are full of (each is looked up on most lines), and
                    // rare bytes (a gram of common ones, " out" or "any ", is in ordinary English).
                    let pairs = (start..<(start + Self.gramBytes - 1)).map {
                        Int(fragment[$0]) | Int(fragment[$0 + 1]) << 8
                    }
                    let word = gram.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
                    let score =
                        pairs.reduce(0) { $0 + ordinary[$1] } + 5 * gram.reduce(0) { $0 + LogLine.commonness($1) }
                        + (pairs.contains(where: commonest.contains) ? 1 << 16 : 0)
                        + (seen.contains(word) ? 1 << 20 : 0)
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
                pairs[Int(truncatingIfNeeded: UInt16(truncatingIfNeeded: word >> UInt32(shift)))] = 1
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
                @inline(__always) func known(_ offset: Int) -> UInt8 {
                    pairs[Int(truncatingIfNeeded: (base + offset).loadUnaligned(as: UInt16.self))]
                }
                /// Whether a gram holds the pair at `offset`: it starts 2, 1 or 0 bytes before it.
                func gramAround(_ offset: Int) -> Bool {
                    for start in max(0, offset - 2)...min(offset, lastGram) {
                        let word = (base + start).loadUnaligned(as: UInt32.self)
                        var slot = Self.slot(word)
                        while slots[slot] != 0 {
                            if slots[slot] == word { return true }
                            slot = (slot &+ 1) & (slots.count &- 1)
                        }
                    }
                    return false
                }
                var offset = 0
                while offset &+ 9 <= lastPair {
                    let a = known(offset)
                    let b = known(offset &+ 3)
                    let c = known(offset &+ 6)
                    let d = known(offset &+ 9)
                    if a | b | c | d != 0 {
                        if a != 0 && gramAround(offset) { return true }
                        if b != 0 && gramAround(offset &+ 3) { return true }
                        if c != 0 && gramAround(offset &+ 6) { return true }
                        if d != 0 && gramAround(offset &+ 9) { return true }
                    }
                    offset &+= 12
                }
                while offset <= lastPair {
                    if known(offset) != 0 && gramAround(offset) { return true }
                    offset &+= 3
                }
                return false
            }
        }
    }

    /// How often each little-endian byte pair occurs in `text`.
    private static func pairCounts(_ text: String.UTF8View) -> [Int] {
        var counts = [Int](repeating: 0, count: 1 << 16)
        var previous: UInt8?
        for byte in text {
            if let previous { counts[Int(previous) | Int(byte) << 8] += 1 }
            previous = byte
        }
        return counts
    }

    @inline(__always)
    private static func slot(_ gram: UInt32) -> Int {
        Int((gram &* 0x9E37_79B1) &>> UInt32(32 - tableBits))
    }
}
