import Foundation
import HerdProtocol
import HerdTestSupport

/// The lab's long-running process (`herd-lab supervise`, started detached by `herd-lab up`): it owns
/// every moving part — a controller, one real Redis (a database per instance, holding Sidekiq's
/// keys as Sidekiq writes them), and per instance a real PostgreSQL cluster (its own, as each
/// Mastodon host has: one saturated database server must not look like a fleet-wide outage), a puma
/// stand-in behind its own real nginx, a host tree, and a `herd-agent run`
/// enrolled over mutual TLS — and it plays the parts of Mastodon that cannot run here: Sidekiq's
/// heartbeats while its unit is active (so restarting the unit through the recording systemctl really
/// brings Sidekiq back), and the application log's traffic. It takes requests (`break`, `heal`,
/// `down`) as files in `control/`, and on `down` stops everything and removes the lab directory.
public final class LabSupervisor: @unchecked Sendable {
    let layout: LabLayout
    let count: Int
    let binaries = LabLayout.binaries
    var redis: RedisServer?
    var controller: ControllerProcess?
    var controllerURL = ""
    var instances: [LabInstance] = []
    /// `--shared-agent`: one agent on one host watches every instance but the split one.
    let sharedAgent: Bool
    /// `--split`: one more instance, split over a database, a web and a Sidekiq host.
    let split: Bool
    var hostAgent: LabAgent?

    public init(layout: LabLayout, instances: Int, sharedAgent: Bool = false, split: Bool = false) {
        self.layout = layout
        self.count = instances
        self.sharedAgent = sharedAgent
        self.split = split
    }

    public func run() async throws {
        try "\(getpid())".write(toFile: layout.pidFile, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: layout.controlDirectory, withIntermediateDirectories: true)
        do {
            try await start()
        } catch {
            try? "\(error)".write(toFile: layout.failedFile, atomically: true, encoding: .utf8)
            stop()
            throw error
        }
        try summary().write(toFile: layout.readyFile, atomically: true, encoding: .utf8)
        var tick = 0
        while true {
            if try handleRequests() { break }
            if tick % 5 == 0 { heartbeats() }
            if tick % 2 == 0 { traffic() }
            tick += 1
            try await Task.sleep(for: .seconds(1))
        }
        stop()
        try? FileManager.default.removeItem(atPath: layout.directory)
    }

    // MARK: Starting

    func start() async throws {
        let port = try FreePort.next()
        controllerURL = "https://127.0.0.1:\(port)"
        log("starting redis-server")
        redis = try RedisServer()
        log("herd-controller on \(controllerURL)")
        _ = try tool(
            "herd-controller",
            [
                "init", "--data-dir", layout.controllerDirectory, "--herdctl-dir",
                layout.directory + "/operators/admin", "--listen", "127.0.0.1:\(port)",
            ])
        // Quick patterns for a demo: two failing results over 10 s are persistent; a fleet incident
        // needs 3 instances, or half of a group of 2 or more; errors under load over the last 12 cycles.
        let conf = layout.controllerDirectory + "/controller.conf"
        var text = try String(contentsOfFile: conf, encoding: .utf8)
        for (key, value) in [
            ("patterns.persistent.results", "2"), ("patterns.persistent.duration", "8s"), ("fleet.min_instances", "3"),
            ("fleet.min_group", "2"), ("notify.group_wait", "5s"), ("patterns.load.window", "12"),
        ] {
            text = text.replacingOccurrences(
                of: #"(?m)^\#(NSRegularExpression.escapedPattern(for: key)) = .*$"#, with: "\(key) = \(value)",
                options: .regularExpression)
        }
        try text.write(toFile: conf, atomically: true, encoding: .utf8)
        controller = try ControllerProcess(
            binary: binaries + "/herd-controller", dataDirectory: layout.controllerDirectory)
        let second = layout.directory + "/operators/bob"
        _ = try tool(
            "herdctl",
            [
                "operators", "request", "--name", "bob", "--controller", controllerURL, "--ca",
                layout.directory + "/operators/admin/ca.pem", "--dir", second,
            ])
        _ = try tool(
            "herdctl",
            ["operators", "add", "--request", second + "/request.json", "--out", second + "/certificate-in.pem"]
                + ["--config", layout.adminConfig])
        _ = try tool(
            "herdctl", ["operators", "install", "--certificate", second + "/certificate-in.pem", "--dir", second])
        let trust =
            try tool("herdctl", ["operators", "trust-line", "--config", layout.adminConfig])
            + tool("herdctl", ["operators", "trust-line", "--config", layout.secondOperatorConfig])

        let shared = layout.sharedHostDirectory
        if sharedAgent { try LabInstance.prepareHost(shared, trust: trust) }
        var planned = (0..<count).map {
            (
                LabFleet.names[$0], LabFleet.endpoint($0, of: count),
                sharedAgent ? LabPlacement.shared(host: shared) : .own
            )
        }
        if split { planned.append((LabFleet.splitName, LabFleet.splitEndpoint, .split)) }
        for (index, (name, endpoint, placement)) in planned.enumerated() {
            log("instance \(name)")
            let instance = try LabInstance(
                name: name, index: index, directory: layout.instanceDirectory(name), endpoint: endpoint,
                placement: placement)
            instances.append(instance)
            try instance.prepare(redis: redis!, trust: trust)
            try redis!.commandBlocking(
                ["SADD", "queues", "default", "push", "ingress", "mailers", "pull", "scheduler"], database: index)
        }
        if sharedAgent {
            // One configuration for the host: its settings, template units, and a section per instance.
            var text =
                LabInstance.hostSettings(host: shared) + "checks.enabled = \(LabInstance.checks)\n"
                + "units.web = mastodon-web@%i.service\nunits.sidekiq = mastodon-sidekiq@%i.service\n"
                + "units.streaming = mastodon-streaming-%i@*.service\nunits.supporting = nginx.service\n"
            for instance in instances where instance.placement != .split {
                text += "\n[\(instance.name)]\n" + instance.instanceSettings(checks: nil)
            }
            try text.write(toFile: shared + "/agent.conf", atomically: true, encoding: .utf8)
            hostAgent = LabAgent(config: shared + "/agent.conf", log: shared + "/agent.log")
        }
        for instance in instances {
            for config in instance.agents.map(\.config) + (instance.agents.isEmpty ? [shared + "/agent.conf"] : []) {
                try enroll(instance.name, config: config)
            }
        }
        heartbeats()
        for instance in instances { try instance.startAgents(binary: binaries + "/herd-agent") }
        try hostAgent?.start(binary: binaries + "/herd-agent")
    }

    /// One agent's enrollment for `name`, with a token of its own.
    func enroll(_ name: String, config: String) throws {
        let token = try JSONCodable.decode(
            OperatorAPI.Token.self,
            from: Data(
                try tool(
                    "herdctl",
                    ["agents", "token", "--instance", name, "--ttl", "10m", "--json", "--config", layout.adminConfig]
                )
                .utf8))
        _ = try tool(
            "herd-agent",
            [
                "enroll", "--config", config, "--controller", controllerURL, "--token", token.token,
                "--ca-fingerprint", token.caFingerprint, "--instance", name,
            ])
    }

    func summary() -> String {
        var lines = [
            "Herd lab in \(layout.directory)", "  controller  \(controllerURL) (data: \(layout.controllerDirectory))",
            "  operators   herdctl --config \(layout.adminConfig)   (admin)",
            "              herdctl --config \(layout.secondOperatorConfig)   (bob, the second approver)",
            "  redis       127.0.0.1:\(redis?.port ?? 0) (database N = instance N)", "  instances:",
        ]
        for instance in instances {
            lines.append(
                "    \(instance.name)  nginx 127.0.0.1:\(instance.nginx.ports[0]) → puma 127.0.0.1:\(instance.standIn.port), "
                    + "PostgreSQL 127.0.0.1:\(instance.postgres.port); "
                    + "host tree \(instance.directory); storage \(instance.endpoint)")
        }
        if let hostAgent {
            lines.append("  one agent   watches every instance but the split one: \(hostAgent.config)")
        }
        if split {
            lines.append(
                "  split       \(LabFleet.splitName): hosts "
                    + LabPlacement.parts.map { "\($0.host) (\($0.role))" }.joined(separator: ", "))
        }
        lines.append("  logs        \(layout.logFile), each agent's agent.log")
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: The parts of Mastodon that cannot run here

    /// Sidekiq writes a heartbeat every few seconds while it runs: so does the lab, for each instance
    /// whose Sidekiq unit is active — and stops (its keys gone) when it is not.
    func heartbeats() {
        guard let redis else { return }
        let now = Date().timeIntervalSince1970
        for instance in instances {
            let identity = "\(instance.name):4242:lab"
            if instance.sidekiqActive {
                let info =
                    #"{"hostname":"\#(instance.name)","started_at":\#(now - 600),"pid":4242,"tag":"mastodon","concurrency":25,"queues":["default","push","ingress","mailers","pull","scheduler"],"labels":[],"identity":"\#(identity)","version":"7.3.9","embedded":false}"#
                // sidekiq-stuck-job: every thread on a job that never ends (started three days ago).
                let stuck = instance.faults.contains(.sidekiqStuckJob)
                let busy = stuck ? 25 : 1
                _ = try? redis.commandBlocking(["SADD", "processes", identity], database: instance.index)
                _ = try? redis.commandBlocking(
                    ["HSET", identity, "info", info, "busy", String(busy), "beat", String(now), "quiet", "false"],
                    database: instance.index)
                _ = try? redis.commandBlocking(["EXPIRE", identity, "60"], database: instance.index)
                // What each busy thread runs, as Sidekiq's heartbeat writes it (`IDENTITY:work`).
                var work = ["HSET", identity + ":work"]
                for thread in 0..<busy {
                    let job =
                        #"{\"class\":\"LinkCrawlWorker\",\"args\":[\#(thread)],\"queue\":\"pull\",\"jid\":\"lab\#(thread)\"}"#
                    let runAt = Int(stuck ? now - 3 * 86_400 : now - 1)
                    work += ["t\(thread)", #"{"queue":"pull","payload":"\#(job)","run_at":\#(runAt)}"#]
                }
                _ = try? redis.commandBlocking(["DEL", identity + ":work"], database: instance.index)
                _ = try? redis.commandBlocking(work, database: instance.index)
                _ = try? redis.commandBlocking(["EXPIRE", identity + ":work", "60"], database: instance.index)
            } else {
                _ = try? redis.commandBlocking(
                    ["DEL", "processes", identity, identity + ":work"], database: instance.index)
            }
        }
    }

    /// Requests through each instance's nginx, and the lines Rails logs for them (and, while the
    /// storage fails, Mastodon's "Storage server error" for some of them).
    func traffic() {
        for instance in instances { instance.traffic() }
        retries()
    }

    /// retry-growth: jobs failing into the retry set, as Sidekiq's retry scheduling writes them.
    func retries() {
        guard let redis else { return }
        let now = Date().timeIntervalSince1970
        for instance in instances where instance.faults.contains(.retryGrowth) {
            var arguments = ["ZADD", "retry"]
            for n in 0..<80 {
                let jid = "\(UUID().uuidString.prefix(8))\(n)"
                arguments += [
                    String(now + 60),
                    #"{"class":"ActivityPub::DeliveryWorker","args":["lab",\#(n)],"queue":"push","jid":"\#(jid)","retry_count":1,"error_class":"NoMethodError","error_message":"undefined method `id' for nil","failed_at":\#(now)}"#,
                ]
            }
            _ = try? redis.commandBlocking(arguments, database: instance.index)
        }
    }

    // MARK: Requests

    /// Handles the requests waiting in `control/`; true when asked to go down.
    func handleRequests() throws -> Bool {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.controlDirectory)) ?? []
        for name in names.sorted() where name.hasSuffix(".request") {
            let path = layout.controlDirectory + "/" + name
            let words = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: " ").map(
                String.init)
            try? FileManager.default.removeItem(atPath: path)
            if words.first == "down" { return true }
            let answer: String
            do {
                answer = try perform(words)
            } catch {
                answer = "error: \(error)"
            }
            try answer.write(
                toFile: layout.controlDirectory + "/" + name.replacingOccurrences(of: ".request", with: ".answer"),
                atomically: true, encoding: .utf8)
        }
        return false
    }

    func perform(_ words: [String]) throws -> String {
        switch (words.first, words.count) {
        case ("break", 3):
            guard let fault = LabFault(rawValue: words[2]) else { throw LabError("unknown fault \(words[2])") }
            let targets = try targets(words[1], fault)
            for instance in targets { try instance.inject(fault) }
            return "\(fault.summary): \(targets.map(\.name).joined(separator: ", "))"
        case ("heal", 2):
            let targets = words[1] == "all" ? instances : try targets(words[1], nil)
            for instance in targets { instance.heal() }
            if let hostAgent, !hostAgent.isRunning { try hostAgent.start(binary: binaries + "/herd-agent") }
            return "healed: \(targets.map(\.name).joined(separator: ", "))"
        default:
            throw LabError("unknown request \(words.joined(separator: " "))")
        }
    }

    func targets(_ name: String, _ fault: LabFault?) throws -> [LabInstance] {
        guard let instance = instances.first(where: { $0.name == name || $0.name.hasPrefix(name + ".") }) else {
            throw LabError("no instance \(name) (\(instances.map(\.name).joined(separator: ", ")))")
        }
        // A storage outage hits every instance behind the same endpoint.
        if fault == .objectStorage { return instances.filter { $0.endpoint == instance.endpoint } }
        return [instance]
    }

    // MARK: Stopping

    func stop() {
        for instance in instances { instance.stop() }
        hostAgent?.stop()
        controller?.stop()
        redis?.stop()
    }

    func tool(_ product: String, _ arguments: [String]) throws -> String {
        let (status, output) = try LabProcess.run(binaries + "/" + product, arguments)
        guard status == 0 else { throw LabError("\(product) \(arguments.prefix(2).joined(separator: " ")): \(output)") }
        return output
    }

    func log(_ line: String) {
        FileHandle.standardError.write(Data("herd-lab: \(line)\n".utf8))
    }
}

public struct LabError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Runs a tool to its end (argv, no shell) and returns its status and output.
enum LabProcess {
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
        -> (Int32, String)
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
