import ArgumentParser
import CHerdMalloc
import FoundationEssentials
import HerdProtocol
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// `herd-agent run`: the daemon. Every `interval` (± 10 % jitter, so a fleet does not report in step)
/// it runs the enabled checks, writes the report to the on-disk outbox, and the delivery loop sends the
/// outbox to the controller in order. Killing it at any moment loses nothing: a report is on disk
/// before it is sent and leaves the disk only when acknowledged.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run checks every interval and deliver signed reports to the controller (the daemon).",
        discussion: """
            Needs `herd-agent enroll` first (for each instance, when the configuration names several: they report \
            separately, and the host checks run once for all). Exit status 78 when the controller has revoked this agent or does \
            not know it (systemd: RestartPreventExitStatus=78), 1 for an unusable configuration or identity.
            """)

    @OptionGroup var options: AgentOptions

    @Option(help: ArgumentHelp("State directory (default: state_dir from the configuration).", valueName: "dir"))
    var stateDir: String?

    @Flag(help: "One cycle, deliver the whole outbox, exit (0 when everything was acknowledged).")
    var once = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        if let stateDir, !stateDir.hasPrefix("/") { throw ValidationError("--state-dir must be an absolute path") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("unknown log level \(logLevel)") }
    }

    func run() async throws {
        Agent.limitMallocArenas()
        var configuration = try options.load()
        if let stateDir { configuration.stateDirectory = stateDir }
        var logger = Logger(label: "herd-agent") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let agent: HostAgent
        do {
            agent = try HostAgent(configuration: configuration, source: options.config, logger: logger)
        } catch {
            throw AgentCommandError("\(error)")
        }
        do {
            if once {
                if try await !agent.runOnce() { throw ExitCode(1) }
                return
            }
            try await agent.run()
        } catch let stop as Delivery.StopError {
            logger.critical("\(stop.description)")
            throw ExitCode(78)
        }
    }
}

/// One instance's parts of the daemon: its identity, checks, outbox, delivery, and the remediation
/// executor with its long-poll. `HostAgent` runs one per instance the host has. Public for the memory
/// soak (`herd-bench agent-soak`), which drives the same parts without the interval's sleep.
public struct Agent: Sendable {
    let configuration: AgentConfiguration
    let enrollment: Enrollment
    let runner: CheckRunner
    let outbox: Outbox
    public let delivery: Delivery
    let client: ControllerClient
    let executor: RemediationExecutor
    public let logger: Logger

    /// Caps glibc's malloc arenas at two, unless MALLOC_ARENA_MAX says otherwise (the operator's word
    /// wins); call it before the daemon's threads start. Without it, glibc's per-thread arenas kept what
    /// NIO's and Swift's pool threads freed: ~0.5 MiB more per 1 000 cycles while the live heap stayed
    /// under 5 MB (BENCHMARKS.md, agent-soak).
    public static func limitMallocArenas() {
        _ = herd_limit_malloc_arenas(2)
    }

    /// `signatures`: the log signature matcher, shared by the instances of one host (nil: build it).
    public init(configuration: AgentConfiguration, logger: Logger, signatures: SignatureMatcher? = nil) throws {
        let files = AgentIdentityFiles(stateDirectory: configuration.stateDirectory)
        let enrollment = try Enrollment.load(files)
        guard enrollment.state == "accepted", SecureFile.exists(files.certificateFile) else {
            throw AgentCommandError(
                "agent \(enrollment.agentID) is \(enrollment.state): after `herdctl agents accept`, run herd-agent enroll again"
            )
        }
        guard enrollment.role == configuration.role else {
            throw AgentCommandError(
                "agent \(enrollment.agentID) enrolled with role \(enrollment.role.rawValue) but the configuration says \(configuration.role.rawValue): "
                    + "a role is fixed at enrollment (revoke the agent and enroll again)")
        }
        let (signingKey, _) = try files.keys()
        client = try ControllerClient(
            controller: enrollment.controller, caCertificatePEM: try SecureFile.readText(files.caFile),
            identity: (
                try SecureFile.readText(files.certificateFile),
                try SecureFile.readText(files.tlsKeyFile, maxBytes: 16 << 10, private: true)
            ))
        let outbox = try Outbox(stateDirectory: configuration.stateDirectory)
        let host = HostSurfaces.live(configuration)
        let runner = CheckRunner(
            checks: try CheckRegistry.enabled(by: configuration), host: host,
            configuration: configuration, store: try DirectoryMemoryStore(stateDirectory: configuration.stateDirectory),
            signatures: try signatures
                ?? SignatureMatcher(table: try SignatureTable.builtIn(appending: configuration.signatureFiles)))
        let (allowlist, trust) = (configuration.remediationAllowlist, configuration.remediationTrust)
        let gate = CommandGate(
            agentID: enrollment.agentID, instance: enrollment.instance,
            ledger: try CommandLedger(stateDirectory: configuration.stateDirectory),
            policy: { () throws(HostPolicyError) in try HostPolicy.load(allowlist: allowlist, trust: trust) })
        // The executor wakes delivery, and delivery hands the executor the commands that ride on an
        // acknowledgement: the box breaks the cycle.
        let wake = DeliveryBox()
        let executor = RemediationExecutor(
            gate: gate, configuration: configuration, host: host, runner: runner, outbox: outbox, logger: logger,
            notify: { wake.delivery?.notify() })
        delivery = Delivery(
            outbox: outbox, client: client, signer: MessageSigner(privateKey: signingKey), logger: logger,
            commands: { envelopes in Task { await executor.handle(envelopes) } })
        wake.delivery = delivery
        self.outbox = outbox
        self.runner = runner
        self.executor = executor
        self.configuration = configuration
        self.enrollment = enrollment
        self.logger = logger
    }

    public var instance: String { enrollment.instance }

    /// One cycle into the outbox, with `shared` (the host checks a multi-instance host ran once for
    /// all its instances) after this instance's own results. `unstored` cycles before it could not be
    /// written (a full state dir): counted in memory, since the outbox's own counter lives on the same
    /// disk, and told in this report's `outbox_dropped` with the rest.
    public func cycle(unstored: UInt64 = 0, shared: [CheckResult] = [], collectedAt: Date = Date()) async throws {
        let results = await runner.runCycle() + shared
        let host = HostFactsReader.read(configuration)
        let report = try outbox.append { sequence, dropped in
            let lost = dropped + unstored
            return Report(
                agentID: enrollment.agentID, instance: enrollment.instance, sequence: sequence,
                collectedAt: collectedAt,
                sentAt: collectedAt, agentVersion: HerdVersion.current,
                intervalSeconds: UInt32(configuration.intervalSeconds),
                host: host, results: results, outboxDropped: lost > 0 ? lost : nil)
        }
        logger.info(
            "cycle done",
            metadata: [
                "sequence": "\(report.sequence)", "checks": "\(results.count)",
                "not_ok": "\(results.filter { $0.status != .ok }.count)",
            ])
        delivery.notify()
    }

    /// Closes the connections to the controller.
    public func shutdown() async { await client.shutdown() }

    /// The command long-poll, for as long as the daemon runs; failures back off from 1 s to a minute.
    public func pollCommands() async {
        var failures = 0
        while !Task.isCancelled {
            do {
                let batch = try await client.commands(wait: configuration.remediationPoll)
                failures = 0
                if !batch.commands.isEmpty { await executor.handle(batch.commands) }
            } catch {
                failures += 1
                if case .unreachable = error {
                    // Delivery says so loudly already.
                    logger.debug("command poll failed", metadata: ["error": "\(error)"])
                } else {
                    // A batch that does not decode, or a refusal: commands may be lost here; say why.
                    logger.warning("command poll answered with no usable batch", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(min(60, 1 << min(failures - 1, 6))))
            }
        }
    }

    func deliverAll() async throws -> Bool {
        var renumbered = false
        while true {
            switch try await delivery.attempt() {
            case .empty: return true
            case .delivered(let sequence): logger.info("report delivered", metadata: ["sequence": "\(sequence)"])
            case .dropped(let sequence, let why):
                logger.error("report dropped", metadata: ["sequence": "\(sequence)", "reason": "\(why)"])
            case .renumbered:
                // Logged where it happened; the renumbered oldest goes at once, but only once.
                if renumbered { return false }
                renumbered = true
            case .retry(let why):
                logger.error("delivery failed; the outbox keeps the reports", metadata: ["reason": "\(why)"])
                return false
            }
        }
    }
}

/// Late-bound delivery for the executor's wake-up (set once, right after both exist).
final class DeliveryBox: @unchecked Sendable {
    var delivery: Delivery?
}
