import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// A compose project's containers, as the services check reads systemd units: each compose service
/// (`com.docker.compose.service`) of the project (`com.docker.compose.project`) stands for the unit
/// `docker.services` maps it to, so every check and diagnosis rule that knows `mastodon-sidekiq.service`
/// reads the `sidekiq` container the same way. Several containers of one service (`--scale`) make one
/// unit: the worst of them, their restarts summed.
public struct DockerUnits: SystemdReader {
    public let engine: DockerEngine
    public let project: String
    /// Compose service → unit name, e.g. `sidekiq` → `mastodon-sidekiq.service`.
    public let services: [(service: String, unit: String)]

    public init(engine: DockerEngine, project: String, services: [(service: String, unit: String)]) {
        self.engine = engine
        self.project = project
        self.services = services
    }

    /// `GET /containers/json`: the fields the agent reads.
    struct Summary: Decodable {
        var id: String
        var labels: [String: String]?
        enum CodingKeys: String, CodingKey {
            case id = "Id", labels = "Labels"
        }
    }

    /// `GET /containers/{id}/json`: the fields the agent reads.
    struct Inspection: Decodable {
        struct State: Decodable {
            struct Health: Decodable {
                var status: String
                enum CodingKeys: String, CodingKey { case status = "Status" }
            }
            var status: String
            var oomKilled: Bool
            var pid: Int
            var exitCode: Int
            var health: Health?
            enum CodingKeys: String, CodingKey {
                case status = "Status", oomKilled = "OOMKilled", pid = "Pid", exitCode = "ExitCode", health = "Health"
            }
        }
        struct Config: Decodable {
            var tty: Bool?
            enum CodingKeys: String, CodingKey { case tty = "Tty" }
        }
        var id: String
        var name: String
        var restartCount: Int
        var state: State
        var config: Config?
        enum CodingKeys: String, CodingKey {
            case id = "Id", name = "Name", restartCount = "RestartCount", state = "State", config = "Config"
        }
    }

    /// The project's containers, running or not, by the unit their service maps to.
    func containers(timeout: Duration) throws(HostError) -> [String: [Summary]] {
        let summaries = try Self.summaries(
            engine: engine, label: "com.docker.compose.project=\(project)", timeout: timeout)
        let units = Dictionary(services.map { ($0.service, $0.unit) }) { first, _ in first }
        var out: [String: [Summary]] = [:]
        for summary in summaries {
            guard let service = summary.labels?["com.docker.compose.service"], let unit = units[service] else {
                continue
            }
            out[unit, default: []].append(summary)
        }
        return out
    }

    /// `GET /containers/json` of every container, running or not, with `label` (`KEY` or `KEY=VALUE`).
    static func summaries(engine: DockerEngine, label: String, timeout: Duration) throws(HostError) -> [Summary] {
        let filter = #"{"label":["\#(label)"]}"#
        let answer = try engine.get("/containers/json?all=1&filters=" + percentEncode(filter), timeout: timeout)
        do {
            return try JSONCodable.decode([Summary].self, from: answer.body)
        } catch {
            throw HostError(.invalid, "docker: /containers/json: \(error)")
        }
    }

    /// The compose projects on the engine, each with the directory it was started from
    /// (`com.docker.compose.project.working_dir`, which holds its `.env.production`), sorted by name.
    public static func projects(engine: DockerEngine, timeout: Duration) throws(HostError) -> [(
        project: String, directory: String?
    )] {
        let summaries = try summaries(engine: engine, label: "com.docker.compose.project", timeout: timeout)
        var directories: [String: String?] = [:]
        for labels in summaries.compactMap(\.labels) {
            guard let project = labels["com.docker.compose.project"] else { continue }
            let directory = labels["com.docker.compose.project.working_dir"]
            if directories[project] == nil || directories[project]! == nil { directories[project] = directory }
        }
        return directories.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func inspect(_ id: String, timeout: Duration) throws(HostError) -> Inspection {
        guard id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else {
            throw HostError(.invalid, "docker: not a container id")
        }
        let answer = try engine.get("/containers/\(id)/json", timeout: timeout)
        do {
            return try JSONCodable.decode(Inspection.self, from: answer.body)
        } catch {
            throw HostError(.invalid, "docker: /containers/\(id.prefix(12))/json: \(error)")
        }
    }

    public func listUnits(matching pattern: String, timeout: Duration) throws(HostError) -> [String] {
        try containers(timeout: timeout).keys.filter { fnmatch(pattern, $0, 0) == 0 }.sorted()
    }

    public func show(_ units: [String], timeout: Duration) throws(HostError) -> [UnitState] {
        let deadline = ContinuousClock.now + timeout
        let byUnit = try containers(timeout: timeout)
        var states: [UnitState] = []
        for unit in units {
            guard let containers = byUnit[unit], !containers.isEmpty else {
                states.append(UnitState(properties: ["Id": unit, "LoadState": "not-found"]))
                continue
            }
            var inspected: [Inspection] = []
            for container in containers {
                inspected.append(try inspect(container.id, timeout: ContinuousClock.now.duration(to: deadline)))
            }
            states.append(Self.unitState(unit, inspected))
        }
        return states
    }

    /// One unit from its containers: the state of the worst, restarts summed, `oom-kill` if any was.
    static func unitState(_ unit: String, _ containers: [Inspection]) -> UnitState {
        func mapped(_ container: Inspection) -> (rank: Int, properties: [String: String]) {
            let state = container.state
            var properties = [
                "Id": unit, "LoadState": "loaded", "MainPID": String(state.pid),
                "ExecMainStatus": String(state.exitCode),
            ]
            let failedRun = state.oomKilled || state.exitCode != 0
            let (active, sub, rank): (String, String, Int) =
                switch state.status {
                case "running" where state.health?.status == "unhealthy": ("active", "unhealthy", 1)
                case "running": ("active", "running", 0)
                case "restarting": ("activating", "auto-restart", 3)
                case "removing": ("deactivating", "stop", 2)
                case "paused": ("inactive", "paused", 2)
                case "created": ("inactive", "dead", 2)
                default:
                    (failedRun ? "failed" : "inactive", state.status == "dead" ? "dead" : "exited", failedRun ? 4 : 2)
                }
            properties["ActiveState"] = active
            properties["SubState"] = sub
            properties["Result"] = state.oomKilled ? "oom-kill" : state.exitCode != 0 ? "exit-code" : "success"
            return (rank, properties)
        }
        let worst = containers.map(mapped).max { $0.rank < $1.rank }!
        var properties = worst.properties
        properties["NRestarts"] = String(containers.reduce(0) { $0 + $1.restartCount })
        if containers.contains(where: \.state.oomKilled) { properties["Result"] = "oom-kill" }
        return UnitState(properties: properties)
    }

    /// A query parameter's value, percent-encoded (everything but unreserved characters).
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || "-._~".utf8.contains(byte)
            {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
