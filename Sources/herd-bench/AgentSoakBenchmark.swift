import ArgumentParser
import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Logging

/// The agent's memory over many cycles: the daemon's own parts (`Agent`: checks, outbox, delivery,
/// the command long-poll) in this process, cycling back to back instead of every interval, with log
/// traffic appended between cycles, reports delivered to a real `herd-controller serve` over mutual
/// TLS, and the controller restarted twice on the way. Anonymous memory (`RssAnon`) is sampled every
/// `--every` cycles: flat means no leak.
struct AgentSoakBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-soak",
        abstract: "The agent's anonymous memory over many cycles, log traffic and controller restarts.")

    @Option(help: "Cycles to run.") var cycles = 10_000
    @Option(help: "Sample memory every this many cycles.") var every = 1_000
    @Option(help: "Log lines appended before each cycle.") var linesPerCycle = 200

    func validate() throws {
        guard cycles >= 1, (1...cycles).contains(every) else { throw ValidationError("--every is 1…--cycles") }
        guard (0...100_000).contains(linesPerCycle) else { throw ValidationError("--lines-per-cycle is 0…100000") }
    }

    func run() async throws {
        // As `herd-agent run` does (MALLOC_ARENA_MAX=16 in the environment: glibc's default on two cores).
        Agent.limitMallocArenas()
        let root = try TemporaryDirectory("herd-bench-soak")
        defer { root.remove() }
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for tool in ["herd-controller", "herd-agent", "herdctl"]
        where !FileManager.default.isExecutableFile(atPath: binaries + "/" + tool) {
            throw ValidationError("build \(tool) next to herd-bench: swift build -c release")
        }
        let port = try FreePort.next()
        let data = root.file("data")
        _ = try Bench.tool(
            binaries + "/herd-controller",
            ["init", "--data-dir", data, "--herdctl-dir", root.file("herdctl"), "--listen", "127.0.0.1:\(port)"])
        var controller = try ControllerProcess(binary: binaries + "/herd-controller", dataDirectory: data)
        defer { controller.stop() }

        // An agent on this host's files: its logs are the files written below.
        let state = root.file("state")
        let log = root.file("production.log")
        let errorLog = root.file("error.log")
        let accessLog = root.file("access.log")
        for file in [log, errorLog, accessLog] { try Data().write(to: URL(fileURLWithPath: file)) }
        let conf = root.file("agent.conf")
        try """
        interval = 5
        state_dir = \(state)
        checks.enabled = logs, nginx.error_log, nginx.access_log, disk, resources
        logs.journal = false
        logs.files = \(log)
        nginx.error_log = \(errorLog)
        nginx.access_log = \(accessLog)
        disk.paths = root=/
        mastodon.env_file = \(root.file("no-env"))
        remediation.poll = 30s

        """.write(toFile: conf, atomically: true, encoding: .utf8)
        let token = try JSONCodable.decode(
            OperatorAPI.Token.self,
            from: Data(
                try Bench.tool(
                    binaries + "/herdctl",
                    [
                        "agents", "token", "--instance", "soak.example", "--ttl", "10m", "--json", "--config",
                        root.file("herdctl/config"),
                    ]
                ).utf8))
        _ = try Bench.tool(
            binaries + "/herd-agent",
            [
                "enroll", "--config", conf, "--controller", "https://127.0.0.1:\(port)", "--token", token.token,
                "--ca-fingerprint", token.caFingerprint, "--instance", "soak.example",
            ])
        let configuration = try AgentConfiguration.parse(
            try String(contentsOfFile: conf, encoding: .utf8), source: conf)
        let agent = try Agent(
            configuration: configuration, logger: Logger(label: "soak", factory: { _ in SwiftLogNoOpLogHandler() }))
        let delivery = Task { try? await agent.delivery.run() }
        let poll = Task { await agent.pollCommands() }

        // Realistic lines: requests, a 500 now and then, Sidekiq jobs, nginx's access and error lines.
        var generator = SplitMix64(seed: 42)
        func traffic(_ cycle: Int) throws {
            var app = ""
            var access = ""
            for n in 0..<linesPerCycle {
                let status = n % 97 == 0 ? 500 : 200
                app +=
                    "I, [2026-12-02T10:00:00.000000 #\(cycle)]  INFO -- : [\(generator.next() % 1_000_000)] method=GET path=/api/v1/timelines/home format=json status=\(status) duration=\(n % 90).1\n"
                if n % 10 == 0 {
                    app +=
                        "2026-12-02T10:00:00.000Z pid=2345 tid=\(generator.next() % 10_000) class=ActivityPub::DeliveryWorker jid=\(generator.next()) elapsed=0.2 INFO: done\n"
                }
                access +=
                    "203.0.113.7 - - [02/Dec/2026:10:00:00 +0000] \"GET /api/v1/timelines/home HTTP/1.1\" \(status) 512 \"-\" \"soak\"\n"
            }
            let error =
                cycle % 50 == 0
                ? "2026/12/02 10:00:00 [error] 812#812: *1 upstream timed out (110: Connection timed out) while reading response header from upstream\n"
                : ""
            for (path, text) in [(log, app), (accessLog, access), (errorLog, error)] where !text.isEmpty {
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                try handle.seekToEnd()
                try handle.write(contentsOf: Data(text.utf8))
                try handle.close()
            }
        }

        var table = BenchTable(columns: ["cycles", "anonymous memory (MiB)", "outbox waiting", "event"])
        let pid = getpid()
        table.add(["0", Bench.format(IngestBenchmark.anonymousMiB(pid)), "0", ""])
        let started = ContinuousClock.now
        for cycle in 1...cycles {
            try traffic(cycle)
            try await agent.cycle()
            var event = ""
            if cycle == cycles / 3 || cycle == 2 * cycles / 3 {
                controller.stop()
                try await Task.sleep(for: .seconds(2))  // reports wait in the outbox meanwhile
                controller = try ControllerProcess(binary: binaries + "/herd-controller", dataDirectory: data)
                event = "controller restarted"
            }
            if cycle % every == 0 || !event.isEmpty {
                // Let delivery drain what waits, so that the outbox's own files do not count as growth.
                for _ in 0..<100 where agent.delivery.outboxCount > 0 { try await Task.sleep(for: .milliseconds(50)) }
                table.add([
                    String(cycle), Bench.format(IngestBenchmark.anonymousMiB(pid)),
                    String(agent.delivery.outboxCount), event,
                ])
            }
        }
        let elapsed = ContinuousClock.now - started
        delivery.cancel()
        poll.cancel()
        await agent.shutdown()
        table.print()
        print(
            "\(cycles) cycles of \(linesPerCycle) log lines in \(Bench.format(Bench.micros(elapsed) / 1e6)) s; peak RSS \(Self.peakMiB()) MiB"
        )
    }

    static func peakMiB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss / 1024
    }
}
