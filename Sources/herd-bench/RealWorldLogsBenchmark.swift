import ArgumentParser
import HerdAgent
import HerdTestSupport

/// The classifier on the real-world corpus: per-category recall and precision and what it got wrong,
/// the table BENCHMARKS.md records (`RealWorldLogTests` holds the floor).
struct RealWorldLogsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "real-world-logs",
        abstract: "Score the log classifier on the real-world corpus (Tests/HerdAgentTests/Fixtures/real-world).")

    @Option(help: "The corpus directory.")
    var directory = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/real-world")

    func run() throws {
        let excerpts = try LogCorpus.load(directory: directory)
        let card = LogCorpus.Scorecard(excerpts)
        let sources = Set(excerpts.map(\.source)).count
        let right = card.answers.filter(\.right).count
        print(
            "\(excerpts.count) excerpts from \(sources) public reports; \(right) right (\(Bench.format(card.accuracy * 100)) %), "
                + "\(Bench.format(card.detection * 100)) % detected (at least one finding)\n")
        print(card.markdown())
    }
}
