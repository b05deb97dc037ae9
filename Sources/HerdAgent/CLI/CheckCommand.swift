import ArgumentParser
import FoundationEssentials
import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// `herd-agent check`: run every enabled check once, here and now, without a controller.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Run the enabled checks once and print their results.",
        discussion: """
            Needs no controller. Log checks look at the last interval (journal) or the last logs.max_bytes_per_cycle \
            of each file, and never move the daemon's saved positions unless --state-dir is given. \
            Exit status 0 when the checks ran, whatever they found; 1 when the configuration cannot be used; \
            64 for bad arguments.
            """)

    @OptionGroup var options: AgentOptions

    @Option(
        name: .customLong("only"), parsing: .upToNextOption,
        help: ArgumentHelp("Run only these checks (ids from `herd-agent checks`).", valueName: "id"))
    var only: [String] = []

    @Flag(help: "Print JSON (the protocol's check results) instead of a table.")
    var json = false

    @Option(help: ArgumentHelp("Keep check state here between runs (positions, counters, trends).", valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp("Run again at this interval (5s to 1d) until interrupted.", valueName: "duration"))
    var every: String?

    @Option(
        help: ArgumentHelp(
            "With several instances configured ([DOMAIN] sections, instances.discover): check only this one "
                + "(default: each in turn).", valueName: "domain"))
    var instance: String?

    static let intervals: ClosedRange<Duration> = .seconds(5)...(.seconds(86_400))

    static func interval(_ text: String) -> Duration? { DurationText.parse(text, in: intervals) }

    func validate() throws {
        if let every, Self.interval(every) == nil {
            throw ValidationError("--every \(every): \(DurationText.expected(Self.intervals))")
        }
        if let stateDir, !stateDir.hasPrefix("/") { throw ValidationError("--state-dir must be an absolute path") }
        if let instance, !Rule.isInstanceName(instance) {
            throw ValidationError("--instance must be a lowercase DNS name")
        }
    }

    func run() async throws {
        let base = try options.load()
        var watched = try HostInstances.resolve(base, source: options.config).instances
        if base.watchesSeveral {
            if let instance {
                watched = watched.filter { $0.domain == instance }
                guard !watched.isEmpty else {
                    throw AgentCommandError("\(instance) is not among the instances configured")
                }
            }
            if json && watched.count != 1 { throw AgentCommandError("--json checks one instance: give --instance") }
        } else if instance != nil {
            throw AgentCommandError("--instance: this configuration watches one instance")
        }
        var runners: [(String?, CheckRunner)] = []
        for one in watched {
            // Checked alone, an instance runs the host checks too.
            var configuration = one.configuration
            configuration.disabledChecks.removeAll {
                AgentConfiguration.hostChecks.contains($0) && !base.disabledChecks.contains($0)
            }
            let store: any CheckMemoryStore
            do {
                let checks = try CheckRegistry.enabled(by: configuration, only: only)
                let directory = stateDir.map { base.watchesSeveral ? $0 + "/" + (one.domain ?? "") : $0 }
                store =
                    try directory.map { dir throws(HostError) in try DirectoryMemoryStore(stateDirectory: dir) }
                    ?? EphemeralMemoryStore()
                let signatures = SignatureMatcher(
                    table: try SignatureTable.builtIn(appending: configuration.signatureFiles))
                runners.append(
                    (
                        one.domain,
                        CheckRunner(
                            checks: checks, host: .live(configuration), configuration: configuration, store: store,
                            signatures: signatures)
                    ))
            } catch {
                throw AgentCommandError("\(error)")
            }
        }
        while true {
            for (domain, runner) in runners {
                let started = Date()
                let cost = CycleCost.start()
                let results = await runner.runCycle()
                if json {
                    try printJSON(results, at: started)
                } else {
                    if let domain, runners.count > 1 { print("== \(domain)") }
                    printTable(results)
                    print(cost.finish(checks: results.count))
                }
            }
            guard let every = every.flatMap(Self.interval) else { return }
            try await Task.sleep(for: every)
        }
    }

    /// `--json`: one cycle's results.
    struct Cycle: Encodable {
        enum CodingKeys: String, CodingKey {
            case collectedAt = "collected_at", results
        }

        var collectedAt: Date
        var results: [CheckResult]
    }

    private func printJSON(_ results: [CheckResult], at date: Date) throws {
        let cycle = Cycle(collectedAt: date, results: results)
        print(String(decoding: try JSONCodable.encode(cycle, pretty: true), as: UTF8.self))
    }

    private func printTable(_ results: [CheckResult]) {
        let colour = isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil
        let idWidth = results.map(\.checkID.count).max() ?? 5
        for result in results {
            let status = result.status.rawValue.uppercased()
            let padded = status + String(repeating: " ", count: 8 - status.count)
            let painted = colour ? Self.paint(padded, result.status) : padded
            let id = result.checkID + String(repeating: " ", count: idWidth - result.checkID.count)
            print("\(painted) \(id)  \(result.summary)")
            for finding in result.findings.prefix(5) {
                print(
                    "         \(String(repeating: " ", count: idWidth))  · \(finding.category) \(finding.signature) ×\(finding.count)"
                )
            }
        }
    }

    private static func paint(_ text: String, _ status: CheckStatus) -> String {
        let code =
            switch status {
            case .ok: "32"
            case .warning: "33"
            case .critical: "31;1"
            case .unknown: "35"
            }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }
}

/// What a cycle cost the host, for the table's last line: wall time, CPU of the agent (all its threads)
/// and of the commands it ran (systemctl, ffmpeg, …), and the agent's peak RSS so far.
struct CycleCost {
    private var clock: ContinuousClock.Instant
    private var own: Double
    private var children: Double

    static func start() -> CycleCost {
        CycleCost(
            clock: .now, own: cpuMilliseconds(RUSAGE_SELF.rawValue).0,
            children: cpuMilliseconds(RUSAGE_CHILDREN.rawValue).0)
    }

    func finish(checks: Int) -> String {
        let (own, peakKiB) = Self.cpuMilliseconds(RUSAGE_SELF.rawValue)
        let children = Self.cpuMilliseconds(RUSAGE_CHILDREN.rawValue).0
        let wall = (ContinuousClock.now - clock).fractionalMilliseconds
        func ms(_ value: Double) -> String { String(Int(value.rounded())) }
        return
            "— \(checks) checks in \(ms(wall)) ms; CPU \(ms(own - self.own)) ms (agent) + \(ms(children - self.children)) ms "
            + "(commands it ran); peak RSS \((Double(peakKiB) / 1024 * 10).rounded() / 10) MiB"
    }

    /// User + system CPU in milliseconds, and the peak RSS in KiB.
    private static func cpuMilliseconds(_ who: Int32) -> (Double, Int) {
        var usage = rusage()
        getrusage(who, &usage)
        let cpu = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000
        let micro = usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
        return (Double(cpu) + Double(micro) / 1000, usage.ru_maxrss)
    }
}

/// Options every agent verb that reads the configuration shares.
struct AgentOptions: ParsableArguments {
    static let defaultConfigPath = "/etc/herd/agent.conf"

    @Option(
        help: ArgumentHelp(
            "The agent's configuration file (Agent/agent.conf.example); built-in defaults when the default path is absent.",
            valueName: "file"))
    var config: String = AgentOptions.defaultConfigPath

    @Option(help: ArgumentHelp("Read the host's files under this directory (overrides host_root).", valueName: "dir"))
    var root: String?

    func validate() throws {
        if let root, !root.hasPrefix("/") { throw ValidationError("--root must be an absolute path") }
    }

    func load() throws -> AgentConfiguration {
        var configuration = AgentConfiguration()
        let filesystem = HostFilesystem()
        if config != Self.defaultConfigPath || filesystem.exists(config) {
            do {
                configuration = try AgentConfiguration.parse(
                    try filesystem.readText(config, maxBytes: 1 << 20), source: config)
            } catch {
                throw AgentCommandError("\(error)")
            }
        }
        if let root { configuration.hostRoot = root }
        return configuration
    }
}

/// A configuration, state directory or signature file that cannot be used; exit status 1.
struct AgentCommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
