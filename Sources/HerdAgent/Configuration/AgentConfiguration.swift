import HerdProtocol

/// The agent's settings: paths, unit names, thresholds, which checks run, the interval. Read from a
/// `key = value` file (Agent/agent.conf.example documents every key); anything not set keeps the
/// default of a standard Mastodon install on Debian, so an empty file is a working configuration.
public struct AgentConfiguration: Sendable, Hashable {
    public var intervalSeconds = 60
    public var stateDirectory = "/var/lib/herd-agent"
    /// Where the host's filesystem is mounted for the agent (`/`, or e.g. `/host` in a container).
    public var hostRoot = "/"
    /// `PATH` for the commands checks run (systemctl, journalctl, ffmpeg, …).
    public var commandPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    public var tags: [String: String] = [:]
    /// What part of its instance this host runs (`AgentRole`): `all`, or one host of a split instance,
    /// which watches only its part's units and checks (`checks`, `supportingUnits`) unless told otherwise.
    public var role: AgentRole = .all
    /// The host name reported and enrolled with (nil: the kernel's); a split instance's checks carry its
    /// first label (`disk@db-1`).
    public var hostname: String?
    /// Live directories to watch as instances, as glob patterns (`/home/*/live`): each with a
    /// `.env.production` naming its LOCAL_DOMAIN is one (Agent/README.md, "Topologies").
    public var discoverInstances: [String] = []
    /// Also watch every compose project on `docker.socket` as an instance: its directory
    /// (`com.docker.compose.project.working_dir`) is its live directory, its name its `docker.project`.
    public var discoverCompose = false
    /// `[DOMAIN]` sections: the instances this agent watches, each with its own settings.
    public var instanceSections: [InstanceSection] = []

    public var mastodonLiveDirectory = "/home/mastodon/live"
    public var mastodonEnvFileOverride: String?
    public var mastodonUser = "mastodon"
    public var mastodonEnvFile: String { mastodonEnvFileOverride ?? mastodonLiveDirectory + "/.env.production" }

    /// Check ids to run; nil runs every check in the registry.
    public var enabledChecks: [String]?
    public var disabledChecks: [String] = []
    public var checkTimeout: Duration = .seconds(10)

    public var logsFromJournal = true
    /// Plain log files read incrementally besides (or instead of) the journal.
    public var logFiles: [String] = []
    public var logsMaxBytesPerCycle = 16 << 20
    /// `journalctl --directory`: read a journal other than the system's.
    public var journalDirectory: String?
    public var signatureFiles: [String] = []

    public var webUnit = "mastodon-web.service"
    public var sidekiqUnit = "mastodon-sidekiq.service"
    /// A pattern for the streaming instances (`mastodon-streaming@PORT`); the `mastodon-streaming`
    /// shim is never trusted.
    public var streamingUnits = "mastodon-streaming@*.service"
    /// Patterns allowed: Debian runs PostgreSQL as `postgresql@15-main`; `postgresql.service` is a shim.
    /// Nil: the role's (`all`: PostgreSQL, Redis and nginx; a part's host, its own).
    public var supportingUnitsOverride: [String]?
    public var supportingUnits: [String] {
        if let supportingUnitsOverride { return supportingUnitsOverride }
        return switch role {
        case .all: ["postgresql@*.service", "redis-server.service", "nginx.service"]
        case .db: ["postgresql@*.service"]
        case .redis: ["redis-server.service"]
        case .web, .streaming: ["nginx.service"]
        case .sidekiq: []
        }
    }

    /// The Docker Engine API's unix socket: when set, the services check reads the compose project's
    /// containers for its units, and the log checks read their logs (Agent/README.md, "Containers").
    public var dockerSocket: String?
    /// The compose project (`com.docker.compose.project`) whose containers are this instance's.
    public var dockerProject = "mastodon"
    /// Compose service → the unit it stands for, as Mastodon's `docker-compose.yml` names them.
    public var dockerServices: [(service: String, unit: String)] = [
        ("web", "mastodon-web.service"), ("sidekiq", "mastodon-sidekiq.service"),
        ("streaming", "mastodon-streaming@docker.service"), ("db", "postgresql@docker.service"),
        ("redis", "redis-server.service"),
    ]

    public var nginxErrorLog = "/var/log/nginx/error.log"
    public var nginxAccessLog = "/var/log/nginx/access.log"

    /// Named paths whose filesystems the disk check watches; nil derives them from the live directory.
    public var diskPathsOverride: [(name: String, path: String)]?
    public var diskWarningPercent = 85.0
    public var diskCriticalPercent = 95.0
    public var diskWarningHoursToFull = 24.0
    public var diskCriticalHoursToFull = 4.0

    public var memoryWarningAvailablePercent = 10.0
    public var memoryCriticalAvailablePercent = 5.0
    public var pressureWarningPercent = 20.0
    /// `journal` (`journalctl -k`) or a file such as `/var/log/kern.log`.
    public var kernelLog = "journal"

    /// How long a service check waits for one connection or reply (PostgreSQL, Redis, HTTP); never
    /// longer than what is left of `checks.timeout`.
    public var serviceTimeout: Duration = .seconds(5)
    public var sidekiqLatencyWarning: Duration = .seconds(60)
    public var sidekiqLatencyCritical: Duration = .seconds(600)
    /// Jobs added to the retry / dead set since the last cycle that make a warning.
    public var sidekiqRetryGrowthWarning = 100
    public var sidekiqDeadGrowthWarning = 50
    /// A job that has held its thread this long makes a warning.
    public var sidekiqBusyJobWarning: Duration = .seconds(3600)
    /// Connections in use, as a share of `max_connections` minus the superuser reserve.
    public var postgresConnectionsWarningPercent = 75.0
    public var postgresConnectionsCriticalPercent = 90.0
    public var postgresTransactionAgeWarning: Duration = .seconds(300)

    /// The public URL (`https://WEB_DOMAIN` when `.auto`), puma, and the streaming processes.
    public var httpPublicURL: URLSetting = .auto
    /// Connect to this address for the public name (still sent as SNI and verified), like `curl --resolve`.
    public var httpPublicAddress: String?
    public var httpWebURL: URLSetting = .auto
    public var httpStreamingURLs: URLListSetting = .auto
    /// Extra trust roots (PEM) for the public name, besides the system's.
    public var httpCAFile: String?
    public var httpLatencyWarning: Duration = .seconds(2)
    public var certificateWarningDays = 14
    public var certificateCriticalDays = 3
    /// A file (mode 0600) holding the canary account's access token; nil: the API probe does not run.
    public var apiProbeTokenFile: String?
    /// Also post (and delete) a `direct` status through `POST /api/v1/statuses`.
    public var apiProbePost = false
    /// At most one post per interval: each post is deleted, and Mastodon allows 30 deletes per 30 minutes.
    public var apiProbePostInterval: Duration = .seconds(900)
    /// Requests left (`X-RateLimit-Remaining`) below which the probe waits for the reset.
    public var apiProbeRateLimitReserve = 10
    /// The host's own remediation policy, root-owned and never written by the agent: which actions and
    /// parameters this host allows, with rate limits (`remediation.allowlist`), and whose signatures it
    /// trusts, how many per risk class (`remediation.trust`). Agent/README.md §Remediation.
    public var remediationAllowlist = "/etc/herd/allowlist.conf"
    public var remediationTrust = "/etc/herd/trust.conf"
    /// How long the command long-poll waits at the controller (0: no long-poll; commands then arrive
    /// only with report acknowledgements).
    public var remediationPoll: Duration = .seconds(50)

    public init() {}

    public var diskPaths: [(name: String, path: String)] {
        diskPathsOverride ?? [
            ("live", mastodonLiveDirectory),
            ("media", mastodonLiveDirectory + "/public/system"),
            ("media_cache", mastodonLiveDirectory + "/public/system/cache"),
            ("postgresql", "/var/lib/postgresql"),
            ("redis", "/var/lib/redis"),
            ("logs", "/var/log"),
        ]
    }

    /// The checks a part's host runs unless `checks.enabled` says otherwise (nil: every check).
    public var roleChecks: Set<String>? {
        let host: Set<String> = ["services", "disk", "resources", "oom"]
        return switch role {
        case .all: nil
        case .db: host.union(["postgresql"])
        case .redis: host
        case .web:
            host.union([
                "mastodon.config", "mastodon.http", "mastodon.api_probe", "logs", "nginx.error_log", "nginx.access_log",
                "media",
            ])
        case .sidekiq: host.union(["mastodon.config", "logs", "sidekiq", "media"])
        case .streaming: host.union(["mastodon.http", "logs"])
        }
    }

    public func isEnabled(_ checkID: String) -> Bool {
        (enabledChecks.map { $0.contains(checkID) } ?? roleChecks?.contains(checkID) ?? true)
            && !disabledChecks.contains(checkID)
    }

    public static func == (a: AgentConfiguration, b: AgentConfiguration) -> Bool {
        a.render() == b.render()
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(render()) }
}

/// A configuration file that cannot be used: `FILE:LINE: problem`.
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension AgentConfiguration {
    /// Parses `key = value` lines; `#` starts a comment line. Unknown keys, repeated keys and bad values
    /// are refused with the line number, so a typo never silently falls back to a default.
    public static func parse(_ text: String, source: String) throws(ConfigurationError) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        let entries: [KeyValueFile.Entry]
        do {
            entries = try KeyValueFile.parse(text, sections: true)
        } catch {
            throw ConfigurationError("\(source):\(error.line): \(error.problem)")
        }
        for entry in entries where entry.section == nil {
            do {
                try configuration.set(entry.key, entry.value)
            } catch {
                throw ConfigurationError("\(source):\(entry.line): \(error.description)")
            }
        }
        var sections: [InstanceSection] = []
        for entry in entries {
            guard let domain = entry.section else { continue }
            if sections.last?.domain != domain {
                guard Rule.isInstanceName(domain) else {
                    throw ConfigurationError(
                        "\(source):\(entry.line): [\(domain)] is not an instance name (a lowercase DNS name)")
                }
                sections.append(InstanceSection(domain: domain, entries: []))
            }
            sections[sections.count - 1].entries.append(entry)
        }
        configuration.instanceSections = sections
        // Each section's keys and values are checked now, not when the agent starts watching it.
        for section in sections { _ = try configuration.applying(section, source: source) }
        return configuration
    }

    /// Every key `parse` accepts, in the order `render` writes them (and `tag.NAME` for each tag).
    public static var keys: [String] { settings.map(\.name) }

    /// Every key, declared once: its name, type and bounds; the default is the property's own.
    static var settings: [SettingKey<AgentConfiguration>] {
        typealias Key = SettingKey<AgentConfiguration>
        func path(_ name: String, _ keyPath: WritableKeyPath<AgentConfiguration, String>) -> Key {
            .value(name, keyPath, parse: Parse.absolutePath) { $0 }
        }
        /// An absolute path, or empty for none.
        func optionalPath(_ name: String, _ keyPath: WritableKeyPath<AgentConfiguration, String?>) -> Key {
            .value(
                name, keyPath, parse: { text throws(SettingError) in text.isEmpty ? nil : try Parse.absolutePath(text) }
            ) {
                $0 ?? ""
            }
        }
        func paths(_ name: String, _ keyPath: WritableKeyPath<AgentConfiguration, [String]>) -> Key {
            .value(
                name, keyPath,
                parse: { text throws(SettingError) in try SettingValue.list(text).map(Parse.absolutePath) },
                format: list)
        }
        func unit(_ name: String, _ keyPath: WritableKeyPath<AgentConfiguration, String>) -> Key {
            .value(name, keyPath, parse: Parse.unit) { $0 }
        }
        func percent(_ name: String, _ keyPath: WritableKeyPath<AgentConfiguration, Double>) -> Key {
            .value(name, keyPath, parse: Parse.percent, format: SettingValue.format)
        }
        func list(_ items: [String]) -> String { items.joined(separator: ", ") }
        return [
            .value(
                "interval", \.intervalSeconds,
                parse: { text throws(SettingError) in
                    // A bare number of seconds is what configurations written before durations hold: still read.
                    if let seconds = Int(text), (5...86_400).contains(seconds) { return seconds }
                    return Int(try SettingValue.duration(text, in: .seconds(5)...(.seconds(86_400))).components.seconds)
                }, format: { DurationText.format(.seconds($0)) }),
            path("state_dir", \.stateDirectory),
            .value(
                "role", \.role,
                parse: { text throws(SettingError) in
                    guard let role = AgentRole(rawValue: text) else {
                        throw SettingError(
                            "role is one of \(AgentRole.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    return role
                }, format: \.rawValue),
            .value(
                "hostname", \.hostname,
                parse: { text throws(SettingError) in
                    guard !text.isEmpty else { return nil }
                    let name = try Parse.host(text)
                    guard Rule.isIdentifier(AgentRole.hostLabel(name)) else {
                        throw SettingError("hostname must start with a label of a-z, 0-9, '-' or '_'")
                    }
                    return name
                }, format: { $0 ?? "" }),
            .value(
                "instances.discover", \.discoverInstances,
                parse: { text throws(SettingError) in try SettingValue.list(text).map(Parse.absolutePath) },
                format: list),
            .bool("instances.discover_compose", \.discoverCompose),
            path("host_root", \.hostRoot),
            .value(
                "command_path", \.commandPath,
                parse: { text throws(SettingError) in
                    guard !text.isEmpty, text.split(separator: ":").allSatisfy({ $0.hasPrefix("/") }) else {
                        throw SettingError("command_path must be absolute directories separated by ':'")
                    }
                    return text
                }, format: { $0 }),
            path("mastodon.live_dir", \.mastodonLiveDirectory),
            Key(
                "mastodon.env_file",
                read: { settings, text throws(SettingError) in
                    settings.mastodonEnvFileOverride = try Parse.absolutePath(text)
                }, write: \.mastodonEnvFile),
            .value("mastodon.user", \.mastodonUser, parse: Parse.word) { $0 },
            .value(
                "checks.enabled", \.enabledChecks,
                parse: { text throws(SettingError) in text == "all" ? nil : try SettingValue.list(text).map(Parse.word)
                },
                format: { $0.map(list) ?? "all" }),
            .value(
                "checks.disabled", \.disabledChecks,
                parse: { text throws(SettingError) in try SettingValue.list(text).map(Parse.word) }, format: list),
            .duration("checks.timeout", \.checkTimeout, in: .seconds(1)...(.seconds(300))),
            .bool("logs.journal", \.logsFromJournal),
            paths("logs.files", \.logFiles),
            .value(
                "logs.max_bytes_per_cycle", \.logsMaxBytesPerCycle,
                parse: { text throws(SettingError) in try Parse.size(text, in: 64 << 10...(1 << 30)) },
                format: { String($0) }),
            optionalPath("logs.journal_directory", \.journalDirectory),
            paths("logs.signature_files", \.signatureFiles),
            unit("units.web", \.webUnit),
            unit("units.sidekiq", \.sidekiqUnit),
            unit("units.streaming", \.streamingUnits),
            Key(
                "units.supporting",
                read: { settings, text throws(SettingError) in
                    settings.supportingUnitsOverride = try SettingValue.list(text).map(Parse.unit)
                }, write: { list($0.supportingUnits) }),
            optionalPath("docker.socket", \.dockerSocket),
            .value("docker.project", \.dockerProject, parse: Parse.word) { $0 },
            Key(
                "docker.services",
                read: { settings, text throws(SettingError) in
                    settings.dockerServices = try Parse.pairs(text, "docker.services entries are SERVICE=UNIT") {
                        name, value throws(SettingError) in (try Parse.word(name), try Parse.unit(value))
                    }
                    guard !settings.dockerServices.isEmpty else { throw SettingError("docker.services is empty") }
                }, write: { list($0.dockerServices.map { "\($0.service)=\($0.unit)" }) }),
            path("nginx.error_log", \.nginxErrorLog),
            path("nginx.access_log", \.nginxAccessLog),
            Key(
                "disk.paths",
                read: { settings, text throws(SettingError) in
                    settings.diskPathsOverride = try Parse.pairs(text, "disk.paths entries are NAME=/path") {
                        name, path throws(SettingError) in
                        guard Rule.isIdentifier(name) else { throw SettingError("disk path names are identifiers") }
                        return (name, try Parse.absolutePath(path))
                    }
                }, write: { list($0.diskPaths.map { "\($0.name)=\($0.path)" }) }),
            percent("disk.warning_percent", \.diskWarningPercent),
            percent("disk.critical_percent", \.diskCriticalPercent),
            .number("disk.warning_hours_to_full", \.diskWarningHoursToFull, in: 0...8760),
            .number("disk.critical_hours_to_full", \.diskCriticalHoursToFull, in: 0...8760),
            percent("memory.warning_available_percent", \.memoryWarningAvailablePercent),
            percent("memory.critical_available_percent", \.memoryCriticalAvailablePercent),
            percent("pressure.warning_percent", \.pressureWarningPercent),
            .value(
                "kernel_log", \.kernelLog,
                parse: { text throws(SettingError) in text == "journal" ? text : try Parse.absolutePath(text) },
                format: { $0 }),
            .duration("services.timeout", \.serviceTimeout, in: .milliseconds(100)...(.seconds(60))),
            .duration("sidekiq.latency_warning", \.sidekiqLatencyWarning, in: .seconds(1)...(.seconds(86_400))),
            .duration("sidekiq.latency_critical", \.sidekiqLatencyCritical, in: .seconds(1)...(.seconds(86_400))),
            .integer("sidekiq.retry_growth_warning", \.sidekiqRetryGrowthWarning, in: 1...10_000_000),
            .integer("sidekiq.dead_growth_warning", \.sidekiqDeadGrowthWarning, in: 1...10_000_000),
            .duration("sidekiq.busy_job_warning", \.sidekiqBusyJobWarning, in: .seconds(60)...(.seconds(7 * 86_400))),
            percent("postgresql.connections_warning_percent", \.postgresConnectionsWarningPercent),
            percent("postgresql.connections_critical_percent", \.postgresConnectionsCriticalPercent),
            .duration(
                "postgresql.transaction_age_warning", \.postgresTransactionAgeWarning,
                in: .seconds(1)...(.seconds(86_400))),
            .value("http.public_url", \.httpPublicURL, parse: Parse.urlSetting, format: \.rendered),
            .value(
                "http.public_address", \.httpPublicAddress,
                parse: { text throws(SettingError) in text.isEmpty ? nil : try Parse.host(text) }, format: { $0 ?? "" }),
            .value("http.web_url", \.httpWebURL, parse: Parse.urlSetting, format: \.rendered),
            .value(
                "http.streaming_urls", \.httpStreamingURLs,
                parse: { text throws(SettingError) in
                    switch text {
                    case "auto": return .auto
                    case "off": return .off
                    default:
                        let urls = try SettingValue.list(text).map { item throws(SettingError) in try Parse.url(item) }
                        guard !urls.isEmpty else { throw SettingError("expected auto, off or URLs") }
                        return .urls(urls)
                    }
                }, format: \.rendered),
            optionalPath("http.ca_file", \.httpCAFile),
            .duration("http.latency_warning", \.httpLatencyWarning, in: .milliseconds(10)...(.seconds(120))),
            .integer("http.certificate_warning_days", \.certificateWarningDays, in: 0...365),
            .integer("http.certificate_critical_days", \.certificateCriticalDays, in: 0...365),
            optionalPath("api_probe.token_file", \.apiProbeTokenFile),
            .bool("api_probe.post", \.apiProbePost),
            .duration("api_probe.post_interval", \.apiProbePostInterval, in: .seconds(300)...(.seconds(86_400))),
            .integer("api_probe.rate_limit_reserve", \.apiProbeRateLimitReserve, in: 1...1000),
            path("remediation.allowlist", \.remediationAllowlist),
            path("remediation.trust", \.remediationTrust),
            .duration("remediation.poll", \.remediationPoll, in: .zero ... .seconds(60)),
        ]
    }

    mutating func set(_ key: String, _ value: String) throws(ConfigurationError) {
        if key.hasPrefix("tag.") {
            let name = String(key.dropFirst(4))
            guard Rule.isIdentifier(name) else { throw ConfigurationError("tag names are identifiers") }
            guard !value.isEmpty, value.utf8.count <= Limits.maxShortTextBytes else {
                throw ConfigurationError("\(key) must be 1 to \(Limits.maxShortTextBytes) bytes")
            }
            tags[name] = value
            return
        }
        guard let setting = Self.settings.first(where: { $0.name == key }) else {
            throw ConfigurationError("unknown key \(key)")
        }
        do {
            try setting.read(&self, value)
        } catch {
            throw ConfigurationError(error.problem)
        }
    }

    /// The configuration as a file `parse` reads back to the same value: every key, defaults included.
    public func render() -> String {
        var lines = SettingKey.render(Self.settings, self)
        lines += tags.sorted { $0.key < $1.key }.map { "tag.\($0.key) = \($0.value)" }
        for section in instanceSections {
            lines += ["", "[\(section.domain)]"] + section.entries.map { "\($0.key) = \($0.value)" }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
