import FoundationEssentials
import HerdProtocol
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon on one host: an `Agent` per instance it watches — each with its own identity, outbox,
/// delivery and command long-poll, reporting separately — and, when it watches several, the host checks
/// (memory and pressure, the kernel's OOM kills) run once per cycle and shared into every instance's
/// report, an OOM kill only with the instance whose unit it hit (`HostChecks.share`).
final class HostAgent: Sendable {
    let configuration: AgentConfiguration
    let agents: [Agent]
    let watched: [WatchedInstance]
    /// The host checks, when several instances share them; nil when the one instance runs its own.
    let hostRunner: CheckRunner?
    let logger: Logger
    /// The instances whose identity the controller revoked or forgot: the others go on without them.
    let stopped = Mutex<Set<Int>>([])
    /// Each instance's command long-poll, cancelled when its instance stops.
    let polls = Mutex<[Int: Task<Void, Never>]>([:])

    init(configuration: AgentConfiguration, source: String, logger: Logger) throws {
        let resolved = try HostInstances.resolve(configuration, source: source)
        for note in resolved.notes { logger.warning("\(note.escapingControlCharacters)") }
        guard !resolved.instances.isEmpty else {
            throw AgentCommandError("no instance to watch: no [DOMAIN] section, and instances.discover found none")
        }
        // One signature matcher for the host (`logs.signature_files` is the host's): its automaton is
        // the largest thing a check runner holds.
        let signatures = SignatureMatcher(table: try SignatureTable.builtIn(appending: configuration.signatureFiles))
        var agents: [Agent] = []
        for instance in resolved.instances {
            var instanceLogger = logger
            if let domain = instance.domain { instanceLogger[metadataKey: "instance"] = "\(domain)" }
            do {
                agents.append(
                    try Agent(configuration: instance.configuration, logger: instanceLogger, signatures: signatures))
            } catch {
                throw AgentCommandError(
                    (instance.domain.map { "\($0): " } ?? "") + "\(error)"
                        + (instance.domain.map { " (herd-agent enroll --instance \($0))" } ?? ""))
            }
        }
        if configuration.watchesSeveral {
            let host = HostInstances.hostConfiguration(configuration)
            hostRunner = CheckRunner(
                checks: try CheckRegistry.enabled(by: host), host: HostSurfaces.live(host), configuration: host,
                store: try DirectoryMemoryStore(stateDirectory: host.stateDirectory),
                signatures: signatures)
        } else {
            hostRunner = nil
        }
        self.configuration = configuration
        self.agents = agents
        self.watched = resolved.instances
        self.logger = logger
    }

    /// Instances whose checks run at once: enough that one instance whose checks hang until their
    /// timeout does not hold up the others' reports, few enough that a cycle's allocations do not
    /// all peak together (glibc keeps the heap's high-water mark).
    static let instancesAtOnce = 8

    /// One cycle for every instance: the host checks once, then each instance's checks, a few
    /// instances at a time.
    func cycle(unstored: [UInt64]) async -> [Bool] {
        let collectedAt = Date()
        let host = await hostRunner?.runCycle() ?? []
        let units = watched.map(HostChecks.units)
        return await withTaskGroup(of: (Int, Bool).self) { group in
            let stopped = self.stopped.withLock { $0 }
            var stored = Array(repeating: false, count: agents.count)
            var running = 0
            for (index, agent) in agents.enumerated() where !stopped.contains(index) {
                if running == Self.instancesAtOnce, let (done, ok) = await group.next() {
                    stored[done] = ok
                    running -= 1
                }
                running += 1
                let shared = HostChecks.share(host, with: units[index], among: units)
                group.addTask {
                    do {
                        try await agent.cycle(unstored: unstored[index], shared: shared, collectedAt: collectedAt)
                        return (index, true)
                    } catch {
                        agent.logger.error(
                            "cycle not stored",
                            metadata: ["error": "\(error)", "unstored_cycles": "\(unstored[index] + 1)"])
                        return (index, false)
                    }
                }
            }
            for await (index, ok) in group { stored[index] = ok }
            return stored
        }
    }

    /// Until every instance's delivery has stopped for good (revoked, or unknown to the controller):
    /// one instance revoked on a multi-instance host stops only its own reports and commands.
    func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, agent) in agents.enumerated() {
                group.addTask { [self] in
                    do {
                        try await agent.delivery.run()
                    } catch {
                        let all = stopped.withLock {
                            $0.insert(index)
                            return $0.count == agents.count
                        }
                        if all { throw error }
                        polls.withLock { $0[index]?.cancel() }
                        agent.logger.critical("\(error); the host's other instances go on")
                    }
                }
                if configuration.remediationPoll > .zero {
                    let poll = Task { await agent.pollCommands() }
                    polls.withLock { $0[index] = poll }
                    group.addTask {
                        await withTaskCancellationHandler {
                            await poll.value
                        } onCancel: {
                            poll.cancel()
                        }
                    }
                }
            }
            group.addTask { [self] in
                var unstored = Array(repeating: UInt64(0), count: agents.count)
                while !Task.isCancelled {
                    let stored = await cycle(unstored: unstored)
                    for index in unstored.indices { unstored[index] = stored[index] ? 0 : unstored[index] + 1 }
                    let interval = Double(configuration.intervalSeconds)
                    try await Task.sleep(for: .milliseconds(Int64(interval * Double.random(in: 0.9...1.1) * 1000)))
                }
            }
            // The cycle loop never ends by itself: the first error (every delivery stopped) ends the daemon.
            while try await group.next() != nil {
                if stopped.withLock({ $0.count == agents.count }) { break }
            }
            group.cancelAll()
        }
        for agent in agents { await agent.shutdown() }
    }

    /// `--once`: a cycle, then each instance's delivery until its outbox is empty or a delivery fails.
    func runOnce() async throws -> Bool {
        let stored = await cycle(unstored: Array(repeating: 0, count: agents.count))
        var delivered = !stored.contains(false)
        for agent in agents {
            do {
                delivered = try await agent.deliverAll() && delivered
                await agent.shutdown()
            } catch {
                await agent.shutdown()
                throw error
            }
        }
        return delivered
    }
}

/// The host checks' results as each instance on a multi-instance host gets them.
enum HostChecks {
    /// The unit names and patterns of one instance's own processes.
    static func units(_ instance: WatchedInstance) -> [String] {
        let c = instance.configuration
        return [c.webUnit, c.sidekiqUnit, c.streamingUnits]
    }

    /// `results` for the instance whose units are `own`: an OOM kill in another instance's unit is
    /// that instance's, not this one's; a kill in no instance's unit (PostgreSQL, Redis, the kernel's
    /// pick of an unrelated process) is every instance's, since they share the host.
    static func share(_ results: [CheckResult], with own: [String], among all: [[String]]) -> [CheckResult] {
        results.map { result in
            guard result.checkID == "oom", !result.findings.isEmpty else { return result }
            func owned(_ unit: String, by units: [String]) -> Bool {
                units.contains { fnmatch($0, unit, 0) == 0 }
            }
            var kept: [Finding] = []
            var elsewhere: UInt64 = 0
            for finding in result.findings {
                let unit = unit(of: finding.signature)
                if let unit, !owned(unit, by: own), all.contains(where: { owned(unit, by: $0) }) {
                    elsewhere += finding.count
                } else {
                    kept.append(finding)
                }
            }
            guard elsewhere > 0 else { return result }
            var metrics = result.metrics
            let mine = kept.reduce(0) { $0 + $1.count }
            metrics["kills"] = Double(mine)
            let others = "\(elsewhere) in other instances' units"
            let summary =
                kept.isEmpty
                ? "no OOM kills of this instance's processes (\(others))"
                : "\(mine) OOM kill\(mine == 1 ? "" : "s"): "
                    + kept.map { "\($0.signature.dropFirst("OOM killed ".count)) ×\($0.count)" }.joined(separator: ", ")
                    + " (and \(others))"
            return CheckResult(
                checkID: result.checkID, status: kept.isEmpty ? .ok : result.status, summary: summary,
                durationMilliseconds: result.durationMilliseconds, metrics: metrics, findings: kept)
        }
    }

    /// `mastodon-sidekiq@alpha.service` in `OOM killed bundle (mastodon-sidekiq@alpha.service)`.
    static func unit(of signature: String) -> String? {
        guard signature.hasSuffix(")"), let open = signature.lastIndex(of: "(") else { return nil }
        return String(signature[signature.index(after: open)..<signature.index(before: signature.endIndex)])
    }
}
