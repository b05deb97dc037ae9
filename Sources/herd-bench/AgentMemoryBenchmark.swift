import ArgumentParser
import Foundation
import HerdTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The memory of watching N instances on one host, in one run: `herd-lab up --instances N` with an agent
/// per instance, then the same lab with one agent for all of them (`--shared-agent`), then Debian's
/// node_exporter scraped twice, for scale. RSS counts the executable's pages in every process that maps
/// them; PSS shares them out, so its sum is what the agents cost the host together.
struct AgentMemoryBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-memory",
        abstract: "RSS and PSS of N agents against one agent for N lab instances, and node_exporter's.")

    @Option(help: "Instances in the lab (2 to 20).") var instances = 20
    @Option(help: "Seconds of steady state before measuring, and of the CPU window.") var window = 60

    func run() async throws {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let dir = "/tmp/herd-bench-agents"
        var table = BenchTable(columns: [
            "watching \(instances) instances", "processes", "RSS MiB (sum)", "PSS MiB (sum)", "anonymous MiB (sum)",
            "RSS MiB (each)", "CPU % of one core (sum)",
        ])
        for (label, flags) in [
            ("an agent per instance", [String]()), ("one agent (--shared-agent)", ["--shared-agent"]),
        ] {
            _ = try? Bench.tool(bin + "/herd-lab", ["down", "--dir", dir])
            _ = try Bench.tool(bin + "/herd-lab", ["up", "--dir", dir, "--instances", String(instances)] + flags)
            defer { _ = try? Bench.tool(bin + "/herd-lab", ["down", "--dir", dir]) }
            try await Task.sleep(for: .seconds(window))
            let agents = LabBenchmark.pids(dir, "herd-agent run")
            let before = agents.map(LabBenchmark.cpuSeconds)
            try await Task.sleep(for: .seconds(window))
            let cpu = zip(agents.map(LabBenchmark.cpuSeconds), before).map { $0 - $1 }.reduce(0, +)
            table.add(Self.row(label, agents, cpu: cpu / Double(window) * 100))
        }
        // node_exporter on a free port, scraped twice, then measured the same way.
        let port = try FreePort.next()
        let exporter = Process()
        exporter.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus-node-exporter")
        exporter.arguments = ["--web.listen-address=127.0.0.1:\(port)"]
        exporter.standardOutput = FileHandle.nullDevice
        exporter.standardError = FileHandle.nullDevice
        try exporter.run()
        defer {
            exporter.terminate()
            exporter.waitUntilExit()
        }
        try await Task.sleep(for: .seconds(2))
        for _ in 0..<2 {
            _ = try? Data(contentsOf: URL(string: "http://127.0.0.1:\(port)/metrics")!)
            try await Task.sleep(for: .seconds(15))
        }
        let before = LabBenchmark.cpuSeconds(exporter.processIdentifier)
        try await Task.sleep(for: .seconds(window))
        table.add(
            Self.row(
                "node_exporter, idle after two scrapes", [exporter.processIdentifier],
                cpu: (LabBenchmark.cpuSeconds(exporter.processIdentifier) - before) / Double(window) * 100))
        table.print()
    }

    static func row(_ label: String, _ pids: [Int32], cpu: Double) -> [String] {
        let rss = pids.map { kib($0, "status", "VmRSS:") }
        let pss = pids.map { kib($0, "smaps_rollup", "Pss:") }
        let anonymous = pids.map { kib($0, "status", "RssAnon:") }
        func mib(_ values: [Double]) -> String { Bench.format(values.reduce(0, +) / 1024) }
        return [
            label, "\(pids.count)", mib(rss), mib(pss), mib(anonymous),
            "\(Bench.format((rss.min() ?? 0) / 1024))–\(Bench.format((rss.max() ?? 0) / 1024))",
            Bench.format(cpu, decimals: 2),
        ]
    }

    /// A `Name:  N kB` line of `/proc/PID/FILE`, in KiB.
    static func kib(_ pid: Int32, _ file: String, _ name: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/\(file)", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name) })
        else { return 0 }
        return Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
    }
}
