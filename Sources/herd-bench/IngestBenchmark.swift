import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import X509

/// Ingest throughput end to end: a `herd-controller serve` process (the release binary next to this
/// one) on a fresh data directory, and this process as the load generator — many simulated agents,
/// each enrolled for real (token, CSR, certificate) and each sending its own pre-signed reports in
/// order over its own mutual-TLS keep-alive connection, as agents do. A report is counted when the
/// controller acknowledged it, which it does only once it is durable.
struct IngestBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract:
            "Signed reports per second through herd-controller serve, over mutual TLS, durable before acknowledgement.")

    @Option(help: "Simulated agents (each its own TLS connection, reports in order).")
    var agents = 100

    @Option(help: "Reports per agent.")
    var reports = 100

    @Option(help: "Check results per report.")
    var results = 15

    @Flag(
        help: "Measure the store alone: the same reports written in group-commit batches, no HTTP, TLS or signatures.")
    var storeOnly = false

    @Option(help: "Instances already in the store before the run (enrolled and reported for, as a big fleet).")
    var fleet = 0

    @Flag(help: "With --store-only: no pattern evaluation (to measure what it costs).")
    var noPatterns = false

    @Option(help: "Sample the controller's anonymous memory every this many acknowledged reports (0: never).")
    var memoryEvery = 0

    @Option(help: "The store: sqlite, or postgresql (a cluster started for the run, fsync on).")
    var store: BenchStoreKind = .sqlite

    @Option(help: "herd-controller serve replicas on the PostgreSQL store (above 1: behind nginx's stream balancer).")
    var replicas = 1

    func run() async throws {
        if storeOnly { return try await runStoreOnly() }
        let root = try TemporaryDirectory("herd-bench-ingest")
        defer { root.remove() }
        guard replicas >= 1, replicas == 1 || store == .postgresql else {
            throw ValidationError("--replicas above 1 needs --store postgresql")
        }
        let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let controllerBinary = directory + "/herd-controller"
        guard FileManager.default.isExecutableFile(atPath: controllerBinary) else {
            throw ValidationError("build herd-controller next to herd-bench: swift build -c release")
        }
        let benchStore = try BenchStore(store, sqliteFile: root.file("data/herd.sqlite"))
        defer { benchStore.stop() }
        // Every simulated agent connects from 127.0.0.1: lift the per-address cap, as a provider with
        // many agents behind one NAT address would.
        let limit = "server.max_connections_per_address = 100000"
        let herdctlDirectory: String
        let servers: [ControllerProcess]
        let base: String
        var replicaSet: ReplicaSet?
        if store == .postgresql {
            if fleet > 0 {
                print("filling the store with \(fleet) instances…")
                let filled = try Store(location: benchStore.location)
                try await Self.fill(filled, instances: fleet)
                try filled.close()
            }
            let set = try ReplicaSet(
                binary: controllerBinary, replicas: replicas, store: benchStore.location, settings: [limit])
            replicaSet = set
            herdctlDirectory = set.herdctlDirectory
            servers = (0..<replicas).compactMap { set.process($0) }
            // One replica: straight to it, as SQLite's; several: through the balancer (one more hop).
            base = "https://127.0.0.1:\(replicas == 1 ? set.replicaPorts[0] : set.port)"
        } else {
            let port = try FreePort.next()
            try runTool(
                controllerBinary,
                [
                    "init", "--data-dir", root.file("data"), "--herdctl-dir", root.file("herdctl"), "--listen",
                    "127.0.0.1:\(port)",
                ])
            let conf = root.file("data") + "/controller.conf"
            let text = try String(contentsOfFile: conf, encoding: .utf8)
            try text.replacingOccurrences(of: "server.max_connections_per_address = 64", with: limit)
                .write(toFile: conf, atomically: true, encoding: .utf8)
            if fleet > 0 {
                print("filling the store with \(fleet) instances…")
                let filled = try Store(path: root.file("data/herd.sqlite"))
                try await Self.fill(filled, instances: fleet)
                try filled.close()
            }
            herdctlDirectory = root.file("herdctl")
            servers = [try ControllerProcess(binary: controllerBinary, dataDirectory: root.file("data"))]
            base = "https://127.0.0.1:\(port)"
        }
        defer {
            replicaSet?.stop()
            for server in servers { server.kill() }
        }
        let caPEM = try SecureFile.readText(herdctlDirectory + "/ca.pem")
        let operatorClient = try client(
            caPEM: caPEM,
            identity: (
                try SecureFile.readText(herdctlDirectory + "/certificate.pem"),
                try SecureFile.readText(herdctlDirectory + "/tls-key.pem")
            ))
        let anonymous = try client(caPEM: caPEM, identity: nil)

        print("enrolling \(agents) agents and signing \(agents * reports) reports of \(results) results…")
        var fleet: [(HTTPClient, [[UInt8]])] = []
        var firstSigner: (MessageSigner, String)?
        for index in 0..<agents {
            let instance = "i\(index).bench.example"
            let token = try JSONCodable.decode(
                OperatorAPI.Token.self,
                from: Data(
                    try await post(
                        operatorClient, base + "/v1/tokens",
                        Array(#"{"instance":"\#(instance)","ttl_seconds":3600,"auto_accept":true}"#.utf8))))
            let enrollment = try SimulatedEnrollment(instance: instance, token: token.token, hostname: "bench")
            let signer = enrollment.signer
            let answer = try WireCoding.decode(
                EnrollResponse.self, from: try await post(anonymous, base + "/v1/enroll", enrollment.body))
            let agentClient = try client(
                caPEM: caPEM, identity: (answer.certificatePEM ?? "", enrollment.tlsKey.pemRepresentation))
            var envelopes: [[UInt8]] = []
            for sequence in 1...reports {
                var report = Self.report(
                    agentID: answer.agentID, instance: instance, sequence: UInt64(sequence), results: results,
                    collectedAt: Self.cycle(sequence, of: reports))
                report.sentAt = Date()
                envelopes.append(WireCoding.encode(try signer.seal(report, as: .report)))
            }
            fleet.append((agentClient, envelopes))
            if firstSigner == nil { firstSigner = (signer, answer.agentID) }
        }
        let bytes = fleet.first?.1.first?.count ?? 0
        print("one envelope: \(bytes) bytes")

        let pids = servers.map(\.process.processIdentifier)
        let serverCPUBefore = pids.map(ProcessCPU.seconds).reduce(0, +)
        let databaseCPUBefore = benchStore.serverCPUSeconds()
        let ownCPUBefore = ownCPUSeconds()
        let started = ContinuousClock.now
        // The soak: how much anonymous memory the controller holds as reports go by (flat: no leak).
        let progress = NIOLockedValueBox(0)
        let pid = pids[0]
        let every = memoryEvery
        let sampler = Task {
            var samples: [(Int, Double)] = [(0, Self.anonymousMiB(pid))]
            var next = every
            while every > 0, !Task.isCancelled {
                let done = progress.withLockedValue { $0 }
                if done >= next {
                    samples.append((done, Self.anonymousMiB(pid)))
                    next += every
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return samples
        }
        let acknowledged = try await withThrowingTaskGroup(of: Int.self) { group in
            for (agentClient, envelopes) in fleet {
                group.addTask {
                    var count = 0
                    for envelope in envelopes {
                        let answer = try WireCoding.decode(
                            IngestResponse.self, from: try await post(agentClient, base + "/v1/reports", envelope))
                        if !answer.duplicate { count += 1 }
                        progress.withLockedValue { $0 += 1 }
                    }
                    return count
                }
            }
            var total = 0
            for try await count in group { total += count }
            return total
        }
        sampler.cancel()
        if every > 0 {
            var table = BenchTable(columns: ["reports acknowledged", "controller anonymous memory (MiB)"])
            for (count, mib) in await sampler.value { table.add([String(count), Bench.format(mib)]) }
            table.add(["\(acknowledged) (end)", Bench.format(Self.anonymousMiB(pid))])
            table.print()
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let serverCPU = pids.map(ProcessCPU.seconds).reduce(0, +) - serverCPUBefore
        let databaseCPU = benchStore.serverCPUSeconds() - databaseCPUBefore
        let ownCPU = ownCPUSeconds() - ownCPUBefore
        // Report to incident: the first agent's sidekiq dies; each report is acknowledged once durable,
        // and the incident is written in the same transaction. Measured: from the acknowledgement of
        // the report that opens it to the operator API showing it.
        if let (signer, agentID) = firstSigner, let (agentClient, _) = fleet.first {
            let now = Date()
            var latency: Double?
            for step in 0..<3 {
                var report = Self.report(
                    agentID: agentID, instance: "i0.bench.example", sequence: UInt64(reports + 1 + step),
                    results: results, collectedAt: now.addingTimeInterval(Double(step - 2) * 60))
                report.sentAt = Date()
                report.results[1].status = .critical
                _ = try await post(
                    agentClient, base + "/v1/reports", WireCoding.encode(try signer.seal(report, as: .report)))
                let acknowledged = ContinuousClock.now
                let open = try JSONCodable.decode(
                    OperatorAPI.Incidents.self,
                    from: Data(try await get(operatorClient, base + "/v1/incidents?state=open")))
                if open.incidents.contains(where: { $0.instance == "i0.bench.example" }) {
                    latency = Double((ContinuousClock.now - acknowledged).components.attoseconds) / 1e15
                    print(
                        String(
                            format:
                                "report to incident: opened by report %d of the outage (persistent: 3 results over 2 min); visible %.1f ms after its acknowledgement (first query)",
                            step + 1, latency!))
                    break
                }
            }
            if latency == nil { print("report to incident: no incident after 3 failing reports") }
        }
        for (agentClient, _) in fleet { try await agentClient.shutdown() }
        try await operatorClient.shutdown()
        try await anonymous.shutdown()

        let reader = try Store(location: benchStore.location)
        let stored = try await reader.count(.history)
        let rows = stored * results
        try reader.close()
        let size = try benchStore.bytes()
        let what = store == .sqlite ? "SQLite" : "PostgreSQL, \(replicas) replica\(replicas == 1 ? "" : "s")"
        print(
            String(
                format:
                    "%@: %d reports (%d acknowledged new, %d stored, %d check results) in %.2f s: %.0f reports/s, %.0f check results/s",
                what, agents * reports, acknowledged, stored, rows, seconds, Double(acknowledged) / seconds,
                Double(acknowledged * results) / seconds))
        print(
            String(
                format: "controller CPU %.2f s (%.0f µs per report), load generator CPU %.2f s; store %.1f MiB",
                serverCPU, serverCPU / Double(max(1, acknowledged)) * 1e6, ownCPU, Double(size) / 1_048_576))
        if store == .postgresql {
            print(
                String(
                    format: "PostgreSQL server CPU %.2f s (%.0f µs per report)", databaseCPU,
                    databaseCPU / Double(max(1, acknowledged)) * 1e6))
        }
    }

    private func runStoreOnly() async throws {
        let root = try TemporaryDirectory("herd-bench-store")
        defer { root.remove() }
        let store = try Store(path: root.file("herd.sqlite"))
        let ca = try FleetCA.create()
        var accepted: [AcceptedReport] = []
        for index in 0..<agents {
            let instance = "i\(index).bench.example"
            let agent = try await Self.enroll(instance, in: store, ca: ca)
            for sequence in 1...reports {
                accepted.append(
                    AcceptedReport(
                        agentID: agent.id,
                        report: Self.report(
                            agentID: agent.id, instance: instance, sequence: UInt64(sequence), results: results,
                            collectedAt: Self.cycle(sequence, of: reports)),
                        receivedAt: Date().timeIntervalSince1970))
            }
        }
        // Interleave agents as concurrent delivery would, in batches as the writer makes them.
        accepted.sort { ($0.report.sequence, $0.agentID) < ($1.report.sequence, $1.agentID) }
        let started = ContinuousClock.now
        let cpu = ownCPUSeconds()
        var index = 0
        while index < accepted.count {
            let batch = Array(accepted[index..<min(accepted.count, index + min(agents, 500))])
            _ = try await store.write(batch, patterns: noPatterns ? .off : PatternEngine())
            index += batch.count
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(
            String(
                format:
                    "store alone\(noPatterns ? " (patterns off)" : ""): %d reports in batches of %d in %.2f s: %.0f reports/s, CPU %.0f µs per report",
                accepted.count, min(agents, 500), seconds, Double(accepted.count) / seconds,
                (ownCPUSeconds() - cpu) / Double(accepted.count) * 1e6))
        try store.close()
    }

    private func client(caPEM: String, identity: (String, String)?) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        if let (certificate, key) = identity {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    private func get(_ client: HTTPClient, _ url: String) async throws -> [UInt8] {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
        return Array(try await response.body.collect(upTo: 64 << 20).readableBytesView)
    }

    private func post(_ client: HTTPClient, _ url: String, _ body: [UInt8]) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(60))
        let bytes = Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        guard response.status == .ok else {
            throw ValidationError("\(url): \(response.status.code) \(String(decoding: bytes, as: UTF8.self))")
        }
        return bytes
    }

    private func runTool(_ path: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("\(path) \(arguments[0]) failed") }
    }

    /// `RssAnon` of /proc/PID/status: the process's own heap and stacks, not its mapped files.
    static func anonymousMiB(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("RssAnon:") })
        else { return 0 }
        return (Double(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0) / 1024
    }

    private func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
