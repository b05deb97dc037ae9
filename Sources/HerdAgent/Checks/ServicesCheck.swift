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
        var mastodon = [(AgentRole.web, configuration.webUnit), (.sidekiq, configuration.sidekiqUnit)]
            .filter { role == .all || role == $0.0 }.map(\.1)
        var supporting: [String] = []
        var notes: [String] = []
        let streaming = role == .all || role == .streaming ? [(configuration.streamingUnits, true)] : []
        for (pattern, isMastodon) in streaming + configuration.supportingUnits.map({ ($0, false) }) {
            guard pattern.contains("*") else {
                isMastodon ? mastodon.append(pattern) : supporting.append(pattern)
                continue
            }
            let found = try systemd.listUnits(matching: pattern, timeout: context.remaining)
            if found.isEmpty && isMastodon { notes.append("no unit matches \(pattern)") }
            isMastodon ? mastodon.append(contentsOf: found) : supporting.append(contentsOf: found)
        }
        let states = try systemd.show(mastodon + supporting, timeout: context.remaining)
        return Self.evaluate(
            states, mastodonUnits: Set(mastodon), notes: notes, memory: context.memory,
            streamingPattern: configuration.streamingUnits)
    }

    static func evaluate(
        _ states: [UnitState], mastodonUnits: Set<String>, notes: [String], memory previous: CheckMemory,
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
            let name = Describe.identifier(unit.id.hasSuffix(".service") ? String(unit.id.dropLast(8)) : unit.id)
            let isMastodon = mastodonUnits.contains(unit.id)
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
