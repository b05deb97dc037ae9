import ArgumentParser
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport

/// Lab-scale figures from one run of `herd-lab` (the release binaries next to this one): agents
/// running, reports per second, the controller's and each agent's RSS and CPU over a quiet window,
/// then the time from a fault to its incident, and from an approval to the agent executing it.
struct LabBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "A herd-lab fleet measured: resources, reports/s, fault → incident, approval → execution.")

    @Option(help: "Instances in the lab.") var instances = 4
    @Option(help: "Seconds of steady state to measure.") var window = 60

    func run() async throws {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let dir = "/tmp/herd-bench-lab"
        func tool(_ product: String, _ arguments: [String]) throws -> String {
            try Bench.tool(bin + "/" + product, arguments)
        }
        let admin = ["--config", dir + "/operators/admin/config"]
        _ = try? tool("herd-lab", ["down", "--dir", dir])
        let started = ContinuousClock.now
        _ = try tool("herd-lab", ["up", "--dir", dir, "--instances", String(instances)])
        defer { _ = try? tool("herd-lab", ["down", "--dir", dir]) }
        print(
            "lab up with \(instances) instances in \(Bench.format(Bench.micros(ContinuousClock.now - started) / 1e6)) s"
        )

        // Steady state: let every agent report a few times, then measure a window.
        try await Task.sleep(for: .seconds(15))
        let controller = Self.pids(dir, "herd-controller serve")
        let agents = Self.pids(dir, "herd-agent run")
        let store = dir + "/controller/herd.sqlite"
        let reportsBefore = try await Self.reports(store)
        let cpuBefore = (controller + agents).map(Self.cpuSeconds)
        try await Task.sleep(for: .seconds(window))
        let cpuAfter = (controller + agents).map(Self.cpuSeconds)
        let reportsAfter = try await Self.reports(store)
        let cpu = zip(cpuAfter, cpuBefore).map { ($0 - $1) / Double(window) * 100 }
        let rss = (controller + agents).map(Self.rssMiB)
        var table = BenchTable(columns: ["process", "count", "RSS MiB (each)", "CPU % of one core (each)"])
        table.add([
            "herd-controller serve", "\(controller.count)", Bench.format(rss.first ?? 0),
            Bench.format(cpu.first ?? 0, decimals: 2),
        ])
        let agentRSS = Array(rss.dropFirst(controller.count))
        let agentCPU = Array(cpu.dropFirst(controller.count))
        table.add([
            "herd-agent run", "\(agents.count)",
            "\(Bench.format(agentRSS.min() ?? 0))–\(Bench.format(agentRSS.max() ?? 0))",
            "\(Bench.format(agentCPU.min() ?? 0, decimals: 2))–\(Bench.format(agentCPU.max() ?? 0, decimals: 2))",
        ])
        table.print()
        print(
            "reports stored in the \(window) s window: \(reportsAfter - reportsBefore) "
                + "(\(Bench.format(Double(reportsAfter - reportsBefore) / Double(window), decimals: 2))/s, interval 5 s)"
        )

        // Fault → incident.
        let faulted = ContinuousClock.now
        _ = try tool("herd-lab", ["break", "--dir", dir, "alpha", "sidekiq-dead"])
        var incident: OperatorAPI.IncidentRow?
        while incident == nil, ContinuousClock.now - faulted < .seconds(120) {
            incident = try JSONCodable.decode(
                OperatorAPI.Incidents.self,
                from: Data(try tool("herdctl", ["incidents", "--open", "--json"] + admin).utf8)
            ).incidents.first { $0.instance == "alpha.lab.example" && $0.checkId == "services" }
            if incident == nil { try await Task.sleep(for: .milliseconds(250)) }
        }
        guard let incident else { throw ValidationError("no incident within 120 s") }
        print(
            "fault to incident: \(Bench.format(Bench.micros(ContinuousClock.now - faulted) / 1e6)) s "
                + "(agent interval 5 s; the lab's persistent rule: 2 results over 8 s)")

        // Approval → execution (the recording systemctl's log gains the restart).
        let detail = try JSONCodable.decode(
            OperatorAPI.RemediationDetail.self,
            from: Data(
                try tool(
                    "herdctl", ["incident", "remediate", "\(incident.id)", "--json", "--preview-wait", "0s"] + admin
                ).utf8))
        let calls = dir + "/instances/alpha.lab.example/bin/units/calls.log"
        let approved = ContinuousClock.now
        _ = try tool(
            "herdctl", ["remediate", "approve", detail.remediation.id, "--config", dir + "/operators/bob/config"])
        while !FileManager.default.fileExists(atPath: calls), ContinuousClock.now - approved < .seconds(60) {
            try await Task.sleep(for: .milliseconds(5))
        }
        print(
            "approval to execution: \(Bench.format(Bench.micros(ContinuousClock.now - approved) / 1000)) ms "
                + "(from starting `herdctl remediate approve` to systemctl running on the host)")
    }

    static func pids(_ dir: String, _ command: String) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(command) && line.contains(dir) ? pid : nil
        }.sorted()
    }

    static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(close, offsetBy: 2)...].split(separator: " ")
        return ((Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func rssMiB(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return 0 }
        return (Double(line.split(separator: " ")[1]) ?? 0) / 1024
    }

    static func reports(_ path: String) async throws -> Int {
        let store = try Store(path: path)
        defer { try? store.close() }
        return try await store.count(.history)
    }
}
