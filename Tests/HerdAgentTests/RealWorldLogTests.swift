import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// The classifier against error output that Mastodon admins and the rest of the stack's users really
/// posted (Fixtures/real-world/, labelled by Agent/log-categories.md): judged on what hosts write, not
/// on lines written to match the table.
@Suite struct RealWorldLogTests {
    static let directory = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/real-world")

    @Test func theCorpusIsLargeLabelledAndSourced() throws {
        let excerpts = try LogCorpus.load(directory: Self.directory)
        #expect(excerpts.count >= 150)
        #expect(Set(excerpts.map(\.name)).count == excerpts.count)
        // At least a handful of categories are each backed by several real excerpts.
        let perLabel = Dictionary(grouping: excerpts, by: \.label).mapValues(\.count)
        #expect(perLabel.values.filter { $0 >= 5 }.count >= 10, "\(perLabel)")
    }

    @Test func everyErrorIsFoundAndNearlyAllAreRight() throws {
        let card = LogCorpus.Scorecard(try LogCorpus.load(directory: Self.directory))
        let healthy = card.answers.filter { $0.predicted == nil }.map(\.excerpt)
        #expect(healthy.isEmpty, "called healthy: \(healthy)")
        #expect(card.accuracy >= 0.95, "\(card.markdown())")
        // Every category's excerpts ≥ 90 % right; precision held to the same floor where a category
        // was predicted often enough for one miss not to be 20 % of it.
        for category in card.categories {
            if let recall = card.recall(category) {
                #expect(recall >= 0.9, "recall of \(category)\n\(card.markdown())")
            }
            if let precision = card.precision(category), card.answers.filter({ $0.predicted == category }).count >= 10 {
                #expect(precision >= 0.9, "precision of \(category)\n\(card.markdown())")
            }
        }
    }

    @Test func malformedExcerptsAreRefusedWithTheirLine() {
        #expect(throws: LogCorpus.Malformed.self) {
            try LogCorpus.parse(Array("label: disk_full\nsource: https://x\n---\nENOSPC\n".utf8), name: "swapped.log")
        }
        #expect(throws: LogCorpus.Malformed.self) {
            try LogCorpus.parse(Array("source: http://x\nlabel: disk_full\n---\nENOSPC\n".utf8), name: "http.log")
        }
        #expect(throws: LogCorpus.Malformed.self) {
            try LogCorpus.parse(Array("source: https://x\nlabel: nonsense\n---\nENOSPC\n".utf8), name: "label.log")
        }
        #expect(throws: LogCorpus.Malformed.self) {
            try LogCorpus.parse(Array("source: https://x\nlabel: disk_full\n---\n".utf8), name: "empty.log")
        }
        let ok = try? LogCorpus.parse(Array("source: https://x\nlabel: disk_full\n---\nENOSPC\n".utf8), name: "ok.log")
        #expect(ok?.lines == [Array("ENOSPC".utf8)])
    }
}
