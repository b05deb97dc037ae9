import HerdProtocol

/// One step of the posting-error playbook, run on the host each cycle. One check per file, listed in
/// `CheckRegistry.all`. A check reads the host only through its `CheckContext`, so a test can point it
/// at a fixture tree; it never needs to catch its own errors — the runner turns a throw, a hang or running past
/// `checks.timeout` into an `unknown` result that says why.
public protocol Check: Sendable {
    /// The catalogue id reported in `CheckResult.check_id`, e.g. `disk`, `nginx.error_log`.
    var id: String { get }
    /// One line for the catalogue.
    var title: String { get }
    /// The playbook step it automates, for the catalogue.
    var playbookStep: String { get }

    func run(in context: CheckContext) async throws -> CheckOutcome

    /// False for an opt-in check its settings do not enable yet (the API probe without a token): it is
    /// left out of the cycle rather than reported `unknown` on every host that never asked for it.
    func isConfigured(by configuration: AgentConfiguration) -> Bool
}

extension Check {
    public func isConfigured(by configuration: AgentConfiguration) -> Bool { true }
}

/// A check whose work is blocking host I/O (files, /proc, child processes). It runs on a thread of its
/// own so that a wedged `systemctl` or a hung mount cannot stall the other checks.
public protocol BlockingCheck: Check {
    func runBlocking(in context: CheckContext) throws -> CheckOutcome
}

extension BlockingCheck {
    public func run(in context: CheckContext) async throws -> CheckOutcome {
        try await HostThread.run { try self.runBlocking(in: context) }
    }
}

/// What a check decided this cycle, and what it wants to remember for the next one.
public struct CheckOutcome: Sendable, Hashable {
    public var status: CheckStatus
    public var summary: String
    public var metrics: [String: Double]
    public var findings: [Finding]
    /// Saved only when the outcome is used; a check that times out re-reads the same window next cycle.
    public var memory: CheckMemory?

    public init(
        _ status: CheckStatus, _ summary: String, metrics: [String: Double] = [:], findings: [Finding] = [],
        memory: CheckMemory? = nil
    ) {
        self.status = status
        self.summary = summary
        self.metrics = metrics
        self.findings = findings
        self.memory = memory
    }

    public static func unknown(_ reason: String, memory: CheckMemory? = nil) -> CheckOutcome {
        CheckOutcome(.unknown, reason, memory: memory)
    }
}
