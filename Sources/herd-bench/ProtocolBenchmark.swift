import ArgumentParser

struct ProtocolBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "protocol")
    func run() throws {}
}
