import HerdProtocol
import Testing

@testable import HerdAgent

/// The prefilter's gram choice: what a healthy host logs never reaches the automaton, and whatever a
/// signature matches always does.
@Suite struct GramFilterTests {
    let table = SignatureTable.builtIn
    var filter: GramFilter { GramFilter(signatures: table.signatures.map(\.fragments))! }

    @Test func ordinaryLinesNeverPassTheFilter() {
        let filter = filter
        for line in OrdinaryLogText.sample.split(separator: "\n") {
            let bytes = Array(line.utf8)
            #expect(!bytes.withUnsafeBufferPointer { filter.mayMatch($0) }, "\(line)")
        }
    }

    @Test func everySignaturesTextPassesTheFilter() {
        let filter = filter
        for signature in table.signatures {
            let line = Array("prefix ".utf8) + Array(signature.fragments.joined(separator: Array(" x ".utf8))) + [0x20]
            #expect(line.withUnsafeBufferPointer { filter.mayMatch($0) }, "\(signature.name)")
        }
    }

    /// No chosen gram holds one of the pairs that ordinary lines are full of.
    @Test func gramsAvoidTheCommonestPairs() {
        let sample = Array(OrdinaryLogText.sample.utf8)
        var counts: [[UInt8]: Int] = [:]
        for i in 0..<(sample.count - 1) { counts[Array(sample[i...i + 1]), default: 0] += 1 }
        let commonest = Set(counts.sorted { $0.value > $1.value }.prefix(20).map(\.key))
        for gram in filter.grams {
            for i in 0..<3 {
                #expect(!commonest.contains(Array(gram[i...i + 1])), "\(String(decoding: gram, as: UTF8.self))")
            }
        }
    }
}
