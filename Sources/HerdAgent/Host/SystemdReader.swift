/// One unit as `systemctl show` describes it.
public struct UnitState: Sendable, Hashable {
    public var id: String
    /// `loaded`, `not-found`, `masked`, …
    public var loadState: String
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`.
    public var activeState: String
    /// `running`, `exited`, `dead`, `auto-restart`, `failed`, …
    public var subState: String
    /// How the last run ended: `success`, `exit-code`, `signal`, `core-dump`, `oom-kill`, `timeout`, …
    public var result: String
    /// Restarts systemd made (`Restart=`), since the unit was loaded.
    public var restarts: Int?
    public var mainPID: Int?
    public var execMainStatus: Int?

    /// Parses one block of `KEY=value` lines.
    public init(properties: [String: String]) {
        id = properties["Id"] ?? ""
        loadState = properties["LoadState"] ?? ""
        activeState = properties["ActiveState"] ?? ""
        subState = properties["SubState"] ?? ""
        result = properties["Result"] ?? ""
        restarts = properties["NRestarts"].flatMap { Int($0) }
        mainPID = properties["MainPID"].flatMap { Int($0) }
        execMainStatus = properties["ExecMainStatus"].flatMap { Int($0) }
    }

    /// Splits `systemctl show` output for several units (blocks separated by blank lines).
    public static func parse(_ text: String) -> [UnitState] {
        var states: [UnitState] = []
        var current: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                if !current.isEmpty { states.append(UnitState(properties: current)) }
                current = [:]
            } else if let equals = line.firstIndex(of: "=") {
                current[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
        }
        if !current.isEmpty { states.append(UnitState(properties: current)) }
        return states
    }
}

/// Reads unit state from systemd.
public protocol SystemdReader: Sendable {
    func show(_ units: [String], timeout: Duration) throws(HostError) -> [UnitState]
    /// Loaded units (active or not) whose names match `pattern`, e.g. `mastodon-streaming@*.service`.
    func listUnits(matching pattern: String, timeout: Duration) throws(HostError) -> [String]
}

/// The real reader: `systemctl show` and `systemctl list-units`, argv only.
public struct SystemctlReader: SystemdReader {
    public static let properties = [
        "Id", "LoadState", "ActiveState", "SubState", "Result", "NRestarts", "MainPID", "ExecMainStatus",
    ]

    public let runner: any ProcessRunner
    public let environment: [String: String]

    public init(runner: any ProcessRunner, environment: [String: String]) {
        self.runner = runner
        self.environment = environment
    }

    public func show(_ units: [String], timeout: Duration) throws(HostError) -> [UnitState] {
        guard !units.isEmpty else { return [] }
        let arguments =
            ["show", "--no-pager", "--property=" + Self.properties.joined(separator: ","), "--"] + units
        let outcome = try systemctl(arguments, timeout: timeout)
        return UnitState.parse(String(decoding: outcome.stdout, as: UTF8.self))
    }

    public func listUnits(matching pattern: String, timeout: Duration) throws(HostError) -> [String] {
        let arguments = [
            "list-units", "--all", "--plain", "--no-legend", "--no-pager", "--type=service", "--", pattern,
        ]
        let outcome = try systemctl(arguments, timeout: timeout)
        return String(decoding: outcome.stdout, as: UTF8.self).split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasSuffix(".service") }.map(String.init)
        }
    }

    private func systemctl(_ arguments: [String], timeout: Duration) throws(HostError) -> ProcessOutcome {
        let outcome = try runner.run(ProcessRequest("systemctl", arguments, environment: environment, timeout: timeout))
        if outcome.timedOut { throw HostError(.timedOut, "systemctl did not answer within \(timeout)") }
        guard outcome.succeeded else {
            throw HostError(.failed, "systemctl \(arguments[0]) failed: \(outcome.stderrLine)")
        }
        return outcome
    }
}
