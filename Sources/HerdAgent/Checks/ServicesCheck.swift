import HerdProtocol

/// Playbook steps 2 and 6, "is Sidekiq running" and "restart the services" (know what restarted):
/// `systemctl show` for mastodon-web, mastodon-sidekiq, every `mastodon-streaming@PORT` instance —
/// never the `mastodon-streaming` shim, which stays "active (exited)" with every node process dead —
/// and the supporting units (PostgreSQL's cluster units, Redis, nginx): state, restarts since the last
/// cycle, and units that ended in `oom-kill`.
public struct ServicesCheck: BlockingCheck {
    public let id = "services"
    public let title = "systemd units: active state, restarts since last cycle, OOM-killed units"
    public let playbookStep = "2 · is Sidekiq running; 6 · restart the services"

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        let configuration = context.configuration
        let systemd = context.host.systemd
        // A part's host of a split instance runs only its part's units.
        let role = configuration.role
        // Mastodon's own units, by the name their metrics take (`mastodon-web.active`), whatever the
        // host calls them (`mastodon-web@alpha.service` on a multi-instance host).
        var mastodon: [(unit: String, name: String)] = [
            (AgentRole.web, configuration.webUnit, "mastodon-web"),
            (.sidekiq, configuration.sidekiqUnit, "mastodon-sidekiq"),
        ].filter { role == .all || role == $0.0 }.map { ($0.1, $0.2) }
        var supporting: [String] = []
        var notes: [String] = []
        if role == .all || role == .streaming {
            let pattern = configuration.streamingUnits
            let found =
                pattern.contains("*") ? try systemd.listUnits(matching: pattern, timeout: context.remaining) : [pattern]
            if found.isEmpty { notes.append("no unit matches \(pattern)") }
            // `mastodon-streaming@4000`, from the part after the unit's `@`.
            mastodon += found.map { unit in
                let base = unit.hasSuffix(".service") ? String(unit.dropLast(8)) : unit
                return (unit, "mastodon-streaming" + (base.firstIndex(of: "@").map { String(base[$0...]) } ?? ""))
            }
        }
        for pattern in configuration.supportingUnits {
            supporting +=
                pattern.contains("*") ? try systemd.listUnits(matching: pattern, timeout: context.remaining) : [pattern]
        }
        let states = try systemd.show(mastodon.map(\.unit) + supporting, timeout: context.remaining)
        return Self.evaluate(
            states, mastodonUnits: Dictionary(mastodon, uniquingKeysWith: { first, _ in first }), notes: notes,
            memory: context.memory, streamingPattern: configuration.streamingUnits)
    }

    /// `mastodonUnits`: Mastodon's own units, each with the name its metrics take.
    static func evaluate(
        _ states: [UnitState], mastodonUnits: [String: String], notes: [String], memory previous: CheckMemory,
        streamingPattern: String
    ) -> CheckOutcome {
        var memory = CheckMemory()
        var metrics: [String: Double] = [:]
        var findings: [Finding] = []
        var status = CheckStatus.ok
        var problems: [String] = []
        if !notes.isEmpty && streamingPattern.contains("*") {
            status = .warning
            problems += notes
        }
        for unit in states {
            let name = Describe.identifier(
                mastodonUnits[unit.id] ?? (unit.id.hasSuffix(".service") ? String(unit.id.dropLast(8)) : unit.id))
            let isMastodon = mastodonUnits[unit.id] != nil
            if unit.loadState == "not-found" {
                if isMastodon {
                    status = max(status, .warning)
                    problems.append("\(unit.id) not found")
                }
                continue
            }
            let active = unit.activeState == "active" || unit.activeState == "reloading"
            metrics["\(name).active"] = active ? 1 : 0
            if active && unit.subState == "unhealthy" {
                // A container (`docker.socket`) whose own health check fails, though it runs.
                status = max(status, .warning)
                problems.append("\(unit.id) unhealthy: its container's health check fails")
            }
            if let restarts = unit.restarts {
                let before = previous.numbers["restarts:\(unit.id)"]
                memory.numbers["restarts:\(unit.id)"] = Double(restarts)
                metrics["\(name).restarts"] = Double(restarts)
                // A smaller count means the unit was reloaded or reset: count from zero.
                let delta = before.map { Double(restarts) >= $0 ? Double(restarts) - $0 : Double(restarts) } ?? 0
                metrics["\(name).restarts_delta"] = delta
                if delta > 0 {
                    status = max(status, .warning)
                    problems.append("\(unit.id) restarted \(Int(delta))× since last cycle")
                }
            }
            if unit.result == "oom-kill" {
                status = .critical
                findings.append(
                    Finding(
                        category: .oomKill, signature: "systemd result oom-kill", count: 1,
                        sample: "\(unit.id): Result=oom-kill, \(unit.activeState) (\(unit.subState))"))
            }
            if !active {
                let crashLoop = unit.subState == "auto-restart"
                let state =
                    "\(unit.id) \(unit.activeState) (\(unit.subState))"
                    + (unit.result.isEmpty || unit.result == "success" ? "" : ", result \(unit.result)")
                problems.append(crashLoop ? state + ", crash loop" : state)
                status = .critical
            }
        }
        let summary =
            problems.isEmpty
            ? "\(states.filter { $0.loadState != "not-found" }.count) units active"
            : problems.joined(separator: "; ")
        return CheckOutcome(status, summary, metrics: metrics, findings: findings, memory: memory)
    }
}
