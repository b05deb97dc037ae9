import ArgumentParser
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport

/// What history costs on disk, and what retention does to it: a few instances reporting every
/// `interval` seconds for `days` days (the ingest benchmark's reports: 15 checks, 6 metrics each),
/// written through the store (SQLite or PostgreSQL), measured per table (SQLite's `dbstat`, PostgreSQL's
/// relation sizes; history's day partitions counted as one); then one retention pass
/// (raw results kept `raw-days`, hourly rollups kept) and the same measurement.
struct RetentionBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention",
        abstract: "Database bytes per instance-day, raw and rolled up, before and after a retention pass.")

    @Option(help: "Instances, each with its own agent.")
    var instances = 4

    @Option(help: "Days of history.")
    var days = 16

    @Option(help: "Seconds between reports.")
    var interval = 60

    @Option(help: "Days of raw results the retention pass keeps.")
    var rawDays = 14

    @Option(help: "The store: sqlite, or postgresql (a cluster started for the run).")
    var store: BenchStoreKind = .sqlite

    func run() async throws {
        let root = try TemporaryDirectory("herd-bench-retention")
        defer { root.remove() }
        let benchStore = try BenchStore(self.store, sqliteFile: root.file("herd.sqlite"), durable: false)
        defer { benchStore.stop() }
        let store = try Store(location: benchStore.location)
        print("store: \(self.store.rawValue)")
        let ca = try FleetCA.create()
        var agents: [(AgentRecord, String)] = []
        for index in 0..<instances {
            let instance = "i\(index).bench.example"
            agents.append((try await IngestBenchmark.enroll(instance, in: store, ca: ca), instance))
        }
        // What the store holds before any report (schema, empty tables and indexes: on PostgreSQL a
        // page or more for each), which no instance-day adds to.
        let empty = try await store.bytesOnDisk().values.reduce(0, +)
        let perInstance = days * 86_400 / interval
        let end = (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600
        let start = end - Double(days * 86_400)
        print(
            "writing \(days) days × \(instances) instances × 1 report / \(interval) s = \(perInstance * instances) reports…"
        )
        let started = ContinuousClock.now
        for step in 0..<perInstance {
            let at = Date(timeIntervalSince1970: start + Double(step * interval))
            _ = try await store.write(
                agents.map { agent, instance in
                    AcceptedReport(
                        agentID: agent.id,
                        report: IngestBenchmark.report(
                            agentID: agent.id, instance: instance, sequence: UInt64(step + 1), results: 15,
                            collectedAt: at),
                        receivedAt: at.timeIntervalSince1970)
                })
        }
        print("written in \(started.duration(to: .now))")
        let instanceDays = Double(instances * days)
        let before = try await store.bytesOnDisk()
        report("before retention", before, per: instanceDays, empty: empty)

        let pass = try await store.retain(now: end, rawDays: rawDays, rollupDays: 400)
        print("retention pass: \(pass)")
        let after = try await store.bytesOnDisk()
        report(
            "after retention (\(rawDays) days raw + rollups for all \(days))", after, per: instanceDays, empty: empty)
        let rollups = after.filter { $0.key.hasPrefix("rollups") }.values.reduce(0, +)
        print(
            String(
                format: "hourly rollups: %.1f KiB per instance-day → %.1f MiB per instance for 400 days",
                Double(rollups) / instanceDays / 1024, Double(rollups) / instanceDays * 400 / 1_048_576))
        try store.close()
    }

    private func report(_ title: String, _ relations: [String: Int], per instanceDays: Double, empty: Int) {
        // PostgreSQL's day partitions of history (and of its index) count as the one table they form.
        var sizes: [String: Int] = [:]
        for (name, bytes) in relations {
            let parent = ["history_packed_d": "history_packed", "history_d": "history"].first { name.hasPrefix($0.key) }
            let table = parent.map { name.hasSuffix("_idx") ? $0.value + "_by_instance" : $0.value } ?? name
            sizes[table, default: 0] += bytes
        }
        let total = sizes.values.reduce(0, +)
        let mebibyte = 1_048_576.0
        print(
            String(
                format:
                    "%@: %.1f MiB, %.2f MiB per instance-day; less the empty store's %.2f MiB: %.3f MiB per instance-day",
                title, Double(total) / mebibyte, Double(total) / instanceDays / mebibyte, Double(empty) / mebibyte,
                Double(total - empty) / instanceDays / mebibyte))
        for (name, bytes) in sizes.sorted(by: { $0.value > $1.value }) where bytes >= 64 << 10 {
            print("  \(name): " + String(format: "%.2f MiB", Double(bytes) / mebibyte))
        }
        let history = sizes.filter { $0.key.hasPrefix("history") }.values.reduce(0, +)
        print(
            String(
                format: "  raw history (history, history_packed, their indexes): %.3f MiB per instance-day",
                Double(history) / instanceDays / mebibyte))
    }
}
