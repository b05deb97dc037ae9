import FoundationEssentials
import HerdProtocol
import Synchronization

/// Runs checks concurrently, each against its own deadline. A check that throws, hangs or overruns
/// yields an `unknown` result saying why and never holds up the others; its memory is not saved, so
/// the next cycle retries the same window. A check still stuck from an earlier cycle is not started
/// again (no pile-up of hung threads) and reports that instead.
public final class CheckRunner: Sendable {
    public let checks: [any Check]
    public let host: HostSurfaces
    public let configuration: AgentConfiguration
    public let store: any CheckMemoryStore
    public let signatures: SignatureMatcher
    private let running = Mutex<[String: ContinuousClock.Instant]>([:])

    public init(
        checks: [any Check], host: HostSurfaces, configuration: AgentConfiguration, store: any CheckMemoryStore,
        signatures: SignatureMatcher
    ) {
        self.checks = checks
        self.host = host
        self.configuration = configuration
        self.store = store
        self.signatures = signatures
    }

    /// Runs every check once and returns their results in registry order.
    public func runCycle() async -> [CheckResult] {
        await run(only: nil)
    }

    /// Runs the enabled checks among `ids` (all when nil) once, in registry order.
    public func run(only ids: [String]?) async -> [CheckResult] {
        let checks = ids.map { ids in self.checks.filter { ids.contains($0.id) } } ?? self.checks
        let now = host.clock.now()
        let configuration = self.configuration
        let filesystem = host.filesystem
        let mastodon =
            (try? await HostThread.run { MastodonInstallation.discover(configuration, filesystem: filesystem) })
            ?? MastodonInstallation(
                liveDirectory: configuration.mastodonLiveDirectory, envFile: configuration.mastodonEnvFile, env: nil,
                envProblem: "could not start a thread to read it", version: nil)
        return await withTaskGroup(of: (Int, CheckResult).self) { group in
            for (index, check) in checks.enumerated() {
                group.addTask { (index, await self.run(check, mastodon: mastodon, now: now)) }
            }
            var results: [(Int, CheckResult)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }

    func run(_ check: any Check, mastodon: MastodonInstallation, now: Date) async -> CheckResult {
        let started = ContinuousClock.now
        let timeout = configuration.checkTimeout
        func result(_ outcome: CheckOutcome) -> CheckResult {
            let elapsed = started.duration(to: .now)
            let result = CheckResult(
                checkID: check.id, status: outcome.status, summary: Self.oneLine(outcome.summary),
                durationMilliseconds: Double(elapsed.milliseconds), metrics: outcome.metrics,
                findings: outcome.findings)
            do {
                try result.validate()
                return result
            } catch {
                return CheckResult(
                    checkID: check.id, status: .unknown, summary: Self.oneLine("produced an invalid result: \(error)"),
                    durationMilliseconds: result.durationMilliseconds)
            }
        }
        let stuckSince: ContinuousClock.Instant? = running.withLock { running in
            if let since = running[check.id] { return since }
            running[check.id] = started
            return nil
        }
        if let stuckSince {
            let seconds = stuckSince.duration(to: started).components.seconds
            return result(.unknown("still running from a cycle \(seconds)s ago; not started again"))
        }
        let context = CheckContext(
            host: host, configuration: configuration, mastodon: mastodon, memory: store.load(check.id),
            signatures: signatures, deadline: started.advanced(by: timeout), now: now)
        let raced = await Self.race(within: timeout) {
            try await check.run(in: context)
        } finally: { [self] in
            _ = self.running.withLock { $0.removeValue(forKey: check.id) }
        }
        switch raced {
        case nil:
            return result(.unknown("did not finish within \(timeout.components.seconds)s"))
        case .failure(let error):
            return result(.unknown("\(error)"))
        case .success(var outcome):
            if let memory = outcome.memory {
                do {
                    try store.save(memory, for: check.id)
                } catch {
                    outcome.status = max(outcome.status, .warning)
                    outcome.summary += "; state not saved: \(error)"
                }
            }
            return result(outcome)
        }
    }

    /// Runs `operation` in a task of its own and returns its result, or nil once `timeout` has passed —
    /// without waiting for an operation that ignores cancellation (blocked in a system call).
    static func race<T: Sendable>(
        within timeout: Duration, _ operation: @escaping @Sendable () async throws -> T,
        finally: @escaping @Sendable () -> Void
    ) async -> Result<T, any Error>? {
        let gate = Gate<Result<T, any Error>?>()
        var sleeper: Task<Void, Never>?
        let result = await withCheckedContinuation { continuation in
            gate.arm(continuation)
            let work = Task {
                let result: Result<T, any Error>
                do {
                    result = .success(try await operation())
                } catch {
                    result = .failure(error)
                }
                finally()
                gate.open(with: result)
            }
            sleeper = Task {
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                if gate.open(with: nil) { work.cancel() }
            }
        }
        sleeper?.cancel()
        return result
    }

    /// A continuation resumed exactly once, by whoever comes first.
    private final class Gate<Value: Sendable>: Sendable {
        private let continuation = Mutex<CheckedContinuation<Value, Never>?>(nil)

        func arm(_ continuation: CheckedContinuation<Value, Never>) {
            self.continuation.withLock { $0 = continuation }
        }

        @discardableResult
        func open(with value: Value) -> Bool {
            guard let continuation = continuation.withLock({ $0.take() }) else { return false }
            continuation.resume(returning: value)
            return true
        }
    }

    /// A summary as the protocol wants it: one line of printable text, at most 512 bytes.
    static func oneLine(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let clean: Unicode.Scalar = scalar.value < 0x20 || scalar.value == 0x7F ? " " : scalar
            let size = UTF8.width(clean)
            guard bytes + size <= Limits.maxSummaryBytes else { break }
            out.append(clean)
            bytes += size
        }
        let summary = String(out)
        return summary.isEmpty ? "(no summary)" : summary
    }
}
