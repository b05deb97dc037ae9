import ArgumentParser

@main
struct HerdBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "herd-bench",
        abstract: "Herd's benchmarks; results are recorded in BENCHMARKS.md.",
        subcommands: [
            ProtocolBenchmark.self, LogScanBenchmark.self, ServiceChecksBenchmark.self, IngestBenchmark.self,
            StatusBenchmark.self, RetentionBenchmark.self, RemediationBenchmark.self, LabBenchmark.self,
            RealWorldLogsBenchmark.self, AgentSoakBenchmark.self, AgentMemoryBenchmark.self,
        ]
    )
}
