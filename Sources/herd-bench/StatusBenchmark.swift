import ArgumentParser
import Crypto
import Foundation
import HerdAgent
import HerdController
import HerdProtocol
import HerdTestSupport

/// `herdctl status` against a large fleet: a data directory from `herd-controller init`, filled with
/// `--instances` enrolled agents whose reports (15 checks each) set every instance's current state,
/// then `herd-controller serve` and the real `herdctl status` (the default, `--json` and `--all`), timed
/// as an operator waits for it (process start to exit). The fleet query itself is timed in-process too.
struct StatusBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "herdctl status over a fleet of N instances (wall time of the real command).")

    @Option(help: "Instances (each with an enrolled agent).")
    var instances = 10_000

    @Option(help: "Reports stored per instance (history depth; the status query reads only current state).")
    var reports = 4

    @Option(help: "Timed runs of herdctl status.")
    var runs = 7

    @Option(help: "The store: sqlite, or postgresql (a cluster started for the run).")
    var store: BenchStoreKind = .sqlite

    func run() async throws {
        let root = try TemporaryDirectory("herd-bench-status")
        defer { root.remove() }
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let port = try FreePort.next()
        let benchStore = try BenchStore(self.store, sqliteFile: root.file("data/herd.sqlite"), durable: false)
        defer { benchStore.stop() }
        try tool(
            directory + "/herd-controller",
            [
                "init", "--data-dir", root.file("data"), "--herdctl-dir", root.file("herdctl"), "--listen",
                "127.0.0.1:\(port)",
            ] + (self.store == .postgresql ? ["--store", benchStore.location] : []))

        print("filling (\(self.store.rawValue)): \(instances) instances × \(reports) reports of 15 checks…")
        let store = try Store(location: benchStore.location)
        let started = ContinuousClock.now
        var batch: [AcceptedReport] = []
        let now = Date()
        for index in 0..<instances {
            let instance = "i\(index).bench.example"
            let agent = try await IngestBenchmark.enrollStub(instance, in: store)
            for sequence in 1...reports {
                var report = IngestBenchmark.report(
                    agentID: agent.id, instance: instance, sequence: UInt64(sequence), results: 15)
                let at = now.addingTimeInterval(Double(sequence - reports) * 60)
                report.collectedAt = at
                if index % 97 == 0 { report.results[2].status = .critical }
                batch.append(AcceptedReport(agentID: agent.id, report: report, receivedAt: at.timeIntervalSince1970))
            }
            if batch.count >= 2_000 {
                _ = try await store.write(batch)
                batch.removeAll()
            }
        }
        _ = try await store.write(batch)
        print(
            "filled in \(started.duration(to: .now)); database \(try benchStore.bytes() / 1_048_576) MiB"
        )

        var queryTimes: [Double] = []
        for _ in 0..<runs {
            let t = ContinuousClock.now
            let rows = try await store.fleetStatus(now: Date().timeIntervalSince1970, silenceIntervals: 3)
            precondition(rows.count == instances)
            queryTimes.append(milliseconds(t.duration(to: .now)))
        }
        // The answer's encoding and decoding alone (what serve and herdctl do besides the query).
        let rows = try await store.fleetStatus(now: Date().timeIntervalSince1970, silenceIntervals: 3)
        let fleet = OperatorAPI.Fleet(rows, serverTime: Date().timeIntervalSince1970, states: nil)
        var encodeTimes: [Double] = []
        var decodeTimes: [Double] = []
        var size = 0
        for _ in 0..<runs {
            var t = ContinuousClock.now
            let data = WireCoding.encode(fleet)
            encodeTimes.append(milliseconds(t.duration(to: .now)))
            size = data.count
            t = ContinuousClock.now
            _ = try WireCoding.decode(OperatorAPI.Fleet.self, from: data, maxBytes: OperatorAPI.Fleet.maxBytes)
            decodeTimes.append(milliseconds(t.duration(to: .now)))
        }
        encodeTimes.sort()
        decodeTimes.sort()
        print(
            String(
                format: "answer: %d KiB; encode median %.0f ms, decode median %.0f ms", size / 1024,
                encodeTimes[runs / 2], decodeTimes[runs / 2]))
        try store.close()

        let server = try ControllerProcess(binary: directory + "/herd-controller", dataDirectory: root.file("data"))
        defer { server.kill() }
        // The three ways an operator asks: the default (counts, and the instances that are not ok), its
        // JSON, and every row.
        let variants: [(name: String, arguments: [String])] = [
            ("herdctl status", []), ("herdctl status --json", ["--json"]), ("herdctl status --all", ["--all"]),
        ]
        var times = Array(repeating: [Double](), count: variants.count)
        for _ in 0..<runs {
            for (index, variant) in variants.enumerated() {
                let t = ContinuousClock.now
                let status = try tool(
                    directory + "/herdctl", ["status", "--config", root.file("herdctl/config")] + variant.arguments,
                    allowFailure: true)
                precondition(status == 0 || status == 1)
                times[index].append(milliseconds(t.duration(to: .now)))
            }
        }
        queryTimes.sort()
        print(
            String(format: "fleet query in-process: median %.0f ms (min %.0f)", queryTimes[runs / 2], queryTimes[0]))
        for (index, variant) in variants.enumerated() {
            let sorted = times[index].sorted()
            print(
                String(
                    format: "%@: median %.0f ms (min %.0f, max %.0f)", variant.name, sorted[runs / 2], sorted[0],
                    sorted[runs - 1]))
        }
    }

    /// Runs `path` with its output discarded and returns its exit status. The agent's runner, which
    /// reaps the child as soon as it exits (Foundation's `Process.waitUntilExit` polls every 50 ms on
    /// Linux, which would round each time measured up).
    @discardableResult
    private func tool(_ path: String, _ arguments: [String], allowFailure: Bool = false) throws -> Int32 {
        let outcome = try SpawnProcessRunner().run(
            ProcessRequest(path, arguments, environment: ["PATH": "/usr/bin:/bin"], timeout: .seconds(300))
        ) { _ in true }
        guard case .exited(let status) = outcome.termination, !outcome.timedOut else {
            throw ValidationError("\(path) \(arguments[0]) did not exit: \(outcome.termination)")
        }
        if !allowFailure, status != 0 { throw ValidationError("\(path) \(arguments[0]) failed") }
        return status
    }

    private func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }
}
