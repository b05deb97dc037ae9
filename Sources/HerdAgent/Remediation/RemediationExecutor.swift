import FoundationEssentials
import HerdProtocol
import Logging

/// The argv each catalogue action runs on this host, from the agent's configuration (unit names). No
/// shell, no string from the controller: the parameters are typed and were checked by the gate.
///
/// Services restart through `systemctl` (deploy/ ships a polkit rule that lets the `herd` user manage
/// only these units). tootctl actions start the `herd-tootctl@.service` template (deploy/), which runs
/// `herd-agent tootctl SPEC` as the mastodon user in the live directory with `RAILS_ENV=production`;
/// `--wait` makes systemctl return the unit's exit status. Their output is read back from the journal.
public enum RemediationCatalogue {
    public struct Step: Sendable, Hashable {
        public var executable: String
        public var arguments: [String]
    }

    public static func steps(_ action: CommandAction, configuration: AgentConfiguration) -> (run: Step, output: Step?) {
        switch action {
        case .restartService(.web):
            return (Step(executable: "systemctl", arguments: ["restart", "--", configuration.webUnit]), nil)
        case .restartService(.sidekiq):
            return (Step(executable: "systemctl", arguments: ["restart", "--", configuration.sidekiqUnit]), nil)
        case .restartService(.streaming):
            return (Step(executable: "systemctl", arguments: ["restart", "--", configuration.streamingUnits]), nil)
        case .restartService(.nginx):
            return (Step(executable: "systemctl", arguments: ["reload", "--", "nginx.service"]), nil)
        case .mediaRemove, .previewCardsRemove:
            let unit = "herd-tootctl@\(action.unitInstance).service"
            return (
                Step(executable: "systemctl", arguments: ["start", "--wait", "--", unit]),
                Step(
                    executable: "journalctl",
                    arguments: ["--unit", unit, "--output", "cat", "--no-pager", "--lines", "40"])
            )
        }
    }
}

/// Runs what the gate admits, one command at a time: the action's argv with its timeout, then the
/// action's verification checks (again after 5, 15 and 30 s while they are not all OK: a restarted
/// service takes a moment), then a `CommandResult` — and a report of the verification results — into
/// the outbox, so that neither is lost if the controller is away. Refusals become results too.
public actor RemediationExecutor {
    let gate: CommandGate
    let configuration: AgentConfiguration
    let host: HostSurfaces
    let runner: CheckRunner
    let outbox: Outbox
    let logger: Logger
    let delivered: @Sendable () -> Void
    let clock: @Sendable () -> Date
    /// Pauses between verification attempts (tests shorten them).
    var verificationPauses: [Duration] = [.seconds(5), .seconds(10), .seconds(15)]

    public init(
        gate: CommandGate, configuration: AgentConfiguration, host: HostSurfaces, runner: CheckRunner, outbox: Outbox,
        logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }, notify: @escaping @Sendable () -> Void
    ) {
        self.gate = gate
        self.configuration = configuration
        self.host = host
        self.runner = runner
        self.outbox = outbox
        self.logger = logger
        self.clock = clock
        self.delivered = notify
    }

    public func setVerificationPauses(_ pauses: [Duration]) { verificationPauses = pauses }

    /// Handles the commands in order; each ends as a result in the outbox (or a log line when it was
    /// not a command at all).
    public func handle(_ envelopes: [SignedEnvelope]) async {
        for envelope in envelopes { await handle(envelope) }
    }

    func handle(_ envelope: SignedEnvelope) async {
        switch gate.decide(envelope, now: clock()) {
        case .drop(let why):
            logger.error("command dropped: not a command", metadata: ["reason": "\(why)"])
        case .refuse(let command, let refusal, let detail):
            logger.warning(
                "command refused",
                metadata: [
                    "command": "\(command.id)", "action": "\(command.action.summary)", "refusal": "\(refusal)",
                    "detail": "\(detail)",
                ])
            store(command, outcome: .refused, refusal: refusal, detail: detail)
        case .run(let command, let approvers):
            logger.notice(
                "running command",
                metadata: [
                    "command": "\(command.id)", "action": "\(command.action.summary)",
                    "approved_by": "\(approvers.joined(separator: ","))", "reason": "\(command.reason)",
                ])
            await run(command)
        }
    }

    func run(_ command: Command) async {
        let steps = RemediationCatalogue.steps(command.action, configuration: configuration)
        let started = clock()
        let outcome = await execute(steps.run, timeout: command.action.timeout)
        var tail = outcome.map { Self.tail($0.stdout + $0.stderr) } ?? ""
        if let output = steps.output, let read = await execute(output, timeout: .seconds(10)), read.succeeded {
            tail = Self.tail(read.stdout)
        }
        let finished = clock()
        let verdict: (CommandResult.Outcome, Int32?, String)
        switch outcome {
        case nil:
            verdict = (.failed, nil, "could not start \(steps.run.executable)")
        case .some(let o) where o.timedOut:
            verdict = (.timedOut, nil, "killed after \(command.action.timeout)")
        case .some(let o):
            switch o.termination {
            case .exited(0): verdict = (.succeeded, 0, "\(command.action.summary): done")
            case .exited(let status): verdict = (.failed, status, "\(command.action.summary): exit status \(status)")
            case .signalled(let signal):
                verdict = (.failed, nil, "\(command.action.summary): killed by signal \(signal)")
            }
        }
        let verification = verdict.0 == .succeeded ? await verify(command.action) : []
        let healthy = verification.allSatisfy { $0.status == .ok }
        let detail =
            verification.isEmpty
            ? verdict.2
            : verdict.2 + "; verification " + (healthy ? "OK" : "not OK")
                + " (\(verification.map { "\($0.checkID) \($0.status.rawValue)" }.joined(separator: ", ")))"
        logger.notice(
            "command finished",
            metadata: ["command": "\(command.id)", "outcome": "\(verdict.0.rawValue)", "detail": "\(detail)"])
        store(
            command, outcome: verdict.0, detail: detail, exitCode: verdict.1, tail: tail, started: started,
            finished: finished, verification: verification)
    }

    func execute(_ step: RemediationCatalogue.Step, timeout: Duration) async -> ProcessOutcome? {
        let request = ProcessRequest(
            step.executable, step.arguments, environment: host.commandEnvironment, timeout: timeout,
            maxOutputBytes: 256 << 10)
        let processes = host.processes
        return try? await HostThread.run { () throws(HostError) -> ProcessOutcome in try processes.run(request) }
    }

    func verify(_ action: CommandAction) async -> [CheckResult] {
        var results = await runner.run(only: action.verificationChecks)
        for pause in verificationPauses where !results.allSatisfy({ $0.status == .ok }) {
            try? await Task.sleep(for: pause)
            results = await runner.run(only: action.verificationChecks)
        }
        return results
    }

    func store(
        _ command: Command, outcome: CommandResult.Outcome, refusal: CommandResult.Refusal? = nil, detail: String,
        exitCode: Int32? = nil, tail: String? = nil, started: Date? = nil, finished: Date? = nil,
        verification: [CheckResult] = []
    ) {
        let line = String(CheckRunner.oneLine(detail).utf8.prefix(Limits.maxReasonBytes - 4)) ?? "result"
        do {
            try outbox.append { sequence in
                CommandResult(
                    commandID: command.id, agentID: command.agentID, instance: command.instance, sequence: sequence,
                    sentAt: clock(), outcome: outcome, refusal: refusal, detail: line, exitCode: exitCode,
                    outputTail: tail, startedAt: started, finishedAt: finished, verification: verification)
            }
            if !verification.isEmpty {
                let host = HostFactsReader.read(configuration)
                _ = try outbox.append { sequence, dropped in
                    Report(
                        agentID: command.agentID, instance: command.instance, sequence: sequence,
                        collectedAt: finished ?? clock(),
                        sentAt: clock(), agentVersion: HerdVersion.current,
                        intervalSeconds: UInt32(configuration.intervalSeconds), host: host, results: verification,
                        outboxDropped: dropped > 0 ? dropped : nil)
                }
            }
        } catch {
            logger.critical(
                "command result not stored", metadata: ["command": "\(command.id)", "error": "\(error)"])
        }
        delivered()
    }

    /// The last 40 lines, each redacted like a finding's sample, at most 4 KiB in all.
    static func tail(_ bytes: [UInt8]) -> String {
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true).suffix(40)
        var text = lines.map { Redactor.sample($0, maxBytes: 400) }.joined(separator: "\n")
        while text.utf8.count > 4096 { text.removeFirst() }
        return text
    }
}
