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
    public var supportingUnits = ["postgresql@*.service", "redis-server.service", "nginx.service"]

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

    public func isEnabled(_ checkID: String) -> Bool {
        (enabledChecks?.contains(checkID) ?? true) && !disabledChecks.contains(checkID)
    }

    public static func == (a: AgentConfiguration, b: AgentConfiguration) -> Bool {
        a.render() == b.render()
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(render()) }
}

/// `auto` (derived from `.env.production`), `off`, or a URL.
public enum URLSetting: Sendable, Hashable {
    case auto, off
    case url(BaseURL)

    var rendered: String {
        switch self {
        case .auto: "auto"
        case .off: "off"
        case .url(let url): url.description
        }
    }
}

public enum URLListSetting: Sendable, Hashable {
    case auto, off
    case urls([BaseURL])

    var rendered: String {
        switch self {
        case .auto: "auto"
        case .off: "off"
        case .urls(let urls): urls.map(\.description).joined(separator: ", ")
        }
    }
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
            entries = try KeyValueFile.parse(text)
        } catch {
            throw ConfigurationError("\(source):\(error.line): \(error.problem)")
        }
        for entry in entries {
            do {
                try configuration.set(entry.key, entry.value)
            } catch {
                throw ConfigurationError("\(source):\(entry.line): \(error.description)")
            }
        }
        return configuration
    }

    /// Every key `parse` accepts, in the order `render` writes them.
    public static let keys = [
        "interval", "state_dir", "host_root", "command_path", "mastodon.live_dir", "mastodon.env_file",
        "mastodon.user", "checks.enabled", "checks.disabled", "checks.timeout", "logs.journal", "logs.files",
        "logs.max_bytes_per_cycle", "logs.journal_directory", "logs.signature_files", "units.web", "units.sidekiq",
        "units.streaming", "units.supporting", "nginx.error_log", "nginx.access_log", "disk.paths",
        "disk.warning_percent", "disk.critical_percent", "disk.warning_hours_to_full", "disk.critical_hours_to_full",
        "memory.warning_available_percent", "memory.critical_available_percent", "pressure.warning_percent",
        "kernel_log", "services.timeout", "sidekiq.latency_warning", "sidekiq.latency_critical",
        "sidekiq.retry_growth_warning", "sidekiq.dead_growth_warning", "sidekiq.busy_job_warning",
        "postgresql.connections_warning_percent",
        "postgresql.connections_critical_percent", "postgresql.transaction_age_warning", "http.public_url",
        "http.public_address", "http.web_url", "http.streaming_urls", "http.ca_file", "http.latency_warning",
        "http.certificate_warning_days", "http.certificate_critical_days", "api_probe.token_file", "api_probe.post",
        "api_probe.post_interval", "api_probe.rate_limit_reserve", "remediation.allowlist", "remediation.trust",
        "remediation.poll",
    ]

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
        switch key {
        case "interval":
            // A bare number of seconds is what configurations written before durations hold: still read.
            if let seconds = Int(value), (5...86_400).contains(seconds) {
                intervalSeconds = seconds
            } else {
                intervalSeconds = Int(
                    try Parse.duration(value, in: .seconds(5)...(.seconds(86_400))).components.seconds)
            }
        case "state_dir": stateDirectory = try Parse.absolutePath(value)
        case "host_root": hostRoot = try Parse.absolutePath(value)
        case "command_path":
            guard !value.isEmpty, value.split(separator: ":").allSatisfy({ $0.hasPrefix("/") }) else {
                throw ConfigurationError("command_path must be absolute directories separated by ':'")
            }
            commandPath = value
        case "mastodon.live_dir": mastodonLiveDirectory = try Parse.absolutePath(value)
        case "mastodon.env_file": mastodonEnvFileOverride = try Parse.absolutePath(value)
        case "mastodon.user": mastodonUser = try Parse.word(value)
        case "checks.enabled": enabledChecks = value == "all" ? nil : try Parse.list(value).map(Parse.word)
        case "checks.disabled": disabledChecks = try Parse.list(value).map(Parse.word)
        case "checks.timeout": checkTimeout = try Parse.duration(value, in: .seconds(1)...(.seconds(300)))
        case "logs.journal": logsFromJournal = try Parse.bool(value)
        case "logs.files": logFiles = try Parse.list(value).map(Parse.absolutePath)
        case "logs.max_bytes_per_cycle": logsMaxBytesPerCycle = try Parse.size(value, in: 64 << 10...(1 << 30))
        case "logs.journal_directory": journalDirectory = value.isEmpty ? nil : try Parse.absolutePath(value)
        case "logs.signature_files": signatureFiles = try Parse.list(value).map(Parse.absolutePath)
        case "units.web": webUnit = try Parse.unit(value)
        case "units.sidekiq": sidekiqUnit = try Parse.unit(value)
        case "units.streaming": streamingUnits = try Parse.unit(value)
        case "units.supporting": supportingUnits = try Parse.list(value).map(Parse.unit)
        case "nginx.error_log": nginxErrorLog = try Parse.absolutePath(value)
        case "nginx.access_log": nginxAccessLog = try Parse.absolutePath(value)
        case "disk.paths":
            diskPathsOverride = try Parse.list(value).map { item throws(ConfigurationError) in
                let parts = item.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { throw ConfigurationError("disk.paths entries are NAME=/path") }
                let name = String(parts[0])
                guard Rule.isIdentifier(name) else {
                    throw ConfigurationError("disk path names are identifiers")
                }
                return (name, try Parse.absolutePath(String(parts[1])))
            }
        case "disk.warning_percent": diskWarningPercent = try Parse.percent(value)
        case "disk.critical_percent": diskCriticalPercent = try Parse.percent(value)
        case "disk.warning_hours_to_full": diskWarningHoursToFull = try Parse.number(value, in: 0...8760)
        case "disk.critical_hours_to_full": diskCriticalHoursToFull = try Parse.number(value, in: 0...8760)
        case "memory.warning_available_percent": memoryWarningAvailablePercent = try Parse.percent(value)
        case "memory.critical_available_percent": memoryCriticalAvailablePercent = try Parse.percent(value)
        case "pressure.warning_percent": pressureWarningPercent = try Parse.percent(value)
        case "kernel_log": kernelLog = value == "journal" ? value : try Parse.absolutePath(value)
        case "services.timeout": serviceTimeout = try Parse.duration(value, in: .milliseconds(100)...(.seconds(60)))
        case "sidekiq.latency_warning":
            sidekiqLatencyWarning = try Parse.duration(value, in: .seconds(1)...(.seconds(86_400)))
        case "sidekiq.latency_critical":
            sidekiqLatencyCritical = try Parse.duration(value, in: .seconds(1)...(.seconds(86_400)))
        case "sidekiq.retry_growth_warning": sidekiqRetryGrowthWarning = try Parse.integer(value, in: 1...10_000_000)
        case "sidekiq.dead_growth_warning": sidekiqDeadGrowthWarning = try Parse.integer(value, in: 1...10_000_000)
        case "sidekiq.busy_job_warning":
            sidekiqBusyJobWarning = try Parse.duration(value, in: .seconds(60)...(.seconds(7 * 86_400)))
        case "postgresql.connections_warning_percent": postgresConnectionsWarningPercent = try Parse.percent(value)
        case "postgresql.connections_critical_percent": postgresConnectionsCriticalPercent = try Parse.percent(value)
        case "postgresql.transaction_age_warning":
            postgresTransactionAgeWarning = try Parse.duration(value, in: .seconds(1)...(.seconds(86_400)))
        case "http.public_url": httpPublicURL = try Parse.urlSetting(value)
        case "http.public_address": httpPublicAddress = value.isEmpty ? nil : try Parse.host(value)
        case "http.web_url": httpWebURL = try Parse.urlSetting(value)
        case "http.streaming_urls":
            switch value {
            case "auto": httpStreamingURLs = .auto
            case "off": httpStreamingURLs = .off
            default:
                let urls = try Parse.list(value).map { item throws(ConfigurationError) in try Parse.url(item) }
                guard !urls.isEmpty else { throw ConfigurationError("expected auto, off or URLs") }
                httpStreamingURLs = .urls(urls)
            }
        case "http.ca_file": httpCAFile = value.isEmpty ? nil : try Parse.absolutePath(value)
        case "http.latency_warning":
            httpLatencyWarning = try Parse.duration(value, in: .milliseconds(10)...(.seconds(120)))
        case "http.certificate_warning_days": certificateWarningDays = try Parse.integer(value, in: 0...365)
        case "http.certificate_critical_days": certificateCriticalDays = try Parse.integer(value, in: 0...365)
        case "api_probe.token_file": apiProbeTokenFile = value.isEmpty ? nil : try Parse.absolutePath(value)
        case "api_probe.post": apiProbePost = try Parse.bool(value)
        case "api_probe.post_interval":
            apiProbePostInterval = try Parse.duration(value, in: .seconds(300)...(.seconds(86_400)))
        case "api_probe.rate_limit_reserve": apiProbeRateLimitReserve = try Parse.integer(value, in: 1...1000)
        case "remediation.allowlist": remediationAllowlist = try Parse.absolutePath(value)
        case "remediation.trust": remediationTrust = try Parse.absolutePath(value)
        case "remediation.poll": remediationPoll = try Parse.duration(value, in: .zero ... .seconds(60))
        default: throw ConfigurationError("unknown key \(key)")
        }
    }

    /// The configuration as a file `parse` reads back to the same value: every key, defaults included.
    public func render() -> String {
        func list(_ items: [String]) -> String { items.joined(separator: ", ") }
        func number(_ value: Double) -> String {
            value == value.rounded() ? String(Int(value)) : String(value)
        }
        let values: [String: String] = [
            "interval": DurationText.format(.seconds(intervalSeconds)), "state_dir": stateDirectory,
            "host_root": hostRoot,
            "command_path": commandPath, "mastodon.live_dir": mastodonLiveDirectory,
            "mastodon.env_file": mastodonEnvFile, "mastodon.user": mastodonUser,
            "checks.enabled": enabledChecks.map(list) ?? "all", "checks.disabled": list(disabledChecks),
            "checks.timeout": DurationText.format(checkTimeout), "logs.journal": String(logsFromJournal),
            "logs.files": list(logFiles), "logs.max_bytes_per_cycle": String(logsMaxBytesPerCycle),
            "logs.journal_directory": journalDirectory ?? "", "logs.signature_files": list(signatureFiles),
            "units.web": webUnit, "units.sidekiq": sidekiqUnit, "units.streaming": streamingUnits,
            "units.supporting": list(supportingUnits), "nginx.error_log": nginxErrorLog,
            "nginx.access_log": nginxAccessLog, "disk.paths": list(diskPaths.map { "\($0.name)=\($0.path)" }),
            "disk.warning_percent": number(diskWarningPercent), "disk.critical_percent": number(diskCriticalPercent),
            "disk.warning_hours_to_full": number(diskWarningHoursToFull),
            "disk.critical_hours_to_full": number(diskCriticalHoursToFull),
            "memory.warning_available_percent": number(memoryWarningAvailablePercent),
            "memory.critical_available_percent": number(memoryCriticalAvailablePercent),
            "pressure.warning_percent": number(pressureWarningPercent), "kernel_log": kernelLog,
            "services.timeout": DurationText.format(serviceTimeout),
            "sidekiq.latency_warning": DurationText.format(sidekiqLatencyWarning),
            "sidekiq.latency_critical": DurationText.format(sidekiqLatencyCritical),
            "sidekiq.retry_growth_warning": String(sidekiqRetryGrowthWarning),
            "sidekiq.dead_growth_warning": String(sidekiqDeadGrowthWarning),
            "sidekiq.busy_job_warning": DurationText.format(sidekiqBusyJobWarning),
            "postgresql.connections_warning_percent": number(postgresConnectionsWarningPercent),
            "postgresql.connections_critical_percent": number(postgresConnectionsCriticalPercent),
            "postgresql.transaction_age_warning": DurationText.format(postgresTransactionAgeWarning),
            "http.public_url": httpPublicURL.rendered, "http.public_address": httpPublicAddress ?? "",
            "http.web_url": httpWebURL.rendered, "http.streaming_urls": httpStreamingURLs.rendered,
            "http.ca_file": httpCAFile ?? "", "http.latency_warning": DurationText.format(httpLatencyWarning),
            "http.certificate_warning_days": String(certificateWarningDays),
            "http.certificate_critical_days": String(certificateCriticalDays),
            "api_probe.token_file": apiProbeTokenFile ?? "", "api_probe.post": String(apiProbePost),
            "api_probe.post_interval": DurationText.format(apiProbePostInterval),
            "api_probe.rate_limit_reserve": String(apiProbeRateLimitReserve),
            "remediation.allowlist": remediationAllowlist, "remediation.trust": remediationTrust,
            "remediation.poll": DurationText.format(remediationPoll),
        ]
        var lines = Self.keys.map { "\($0) = \(values[$0]!)" }
        lines += tags.sorted { $0.key < $1.key }.map { "tag.\($0.key) = \($0.value)" }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Typed, bounded values for configuration keys.
enum Parse {
    static func integer(_ value: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        guard let n = Int(value), range.contains(n) else {
            throw ConfigurationError("expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    static func number(_ value: String, in range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
        guard let n = Double(value), n.isFinite, range.contains(n) else {
            throw ConfigurationError("expected a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    static func percent(_ value: String) throws(ConfigurationError) -> Double {
        try number(value.hasSuffix("%") ? String(value.dropLast()) : value, in: 0...100)
    }

    static func bool(_ value: String) throws(ConfigurationError) -> Bool {
        switch value {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigurationError("expected true or false")
        }
    }

    static func absolutePath(_ value: String) throws(ConfigurationError) -> String {
        guard value.hasPrefix("/"), value.utf8.count <= 4096, !value.utf8.contains(where: { $0 < 0x20 }) else {
            throw ConfigurationError("expected an absolute path")
        }
        return value
    }

    /// A user, unit or check name: no spaces, no control characters, no leading '-'.
    static func word(_ value: String) throws(ConfigurationError) -> String {
        guard !value.isEmpty, value.utf8.count <= 256, value.first != "-",
            value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != 0x2C })
        else { throw ConfigurationError("expected a name without spaces") }
        return value
    }

    static func unit(_ value: String) throws(ConfigurationError) -> String {
        let name = try word(value)
        guard name.hasSuffix(".service") else { throw ConfigurationError("unit names end in .service") }
        return name
    }

    static func url(_ value: String) throws(ConfigurationError) -> BaseURL {
        guard let url = BaseURL(value) else {
            throw ConfigurationError("expected http(s)://host[:port] without a path")
        }
        return url
    }

    static func urlSetting(_ value: String) throws(ConfigurationError) -> URLSetting {
        switch value {
        case "auto": return .auto
        case "off": return .off
        default: return .url(try url(value))
        }
    }

    /// A host name or an IP address, nothing else.
    static func host(_ value: String) throws(ConfigurationError) -> String {
        guard !value.isEmpty, value.utf8.count <= 253, value.first != "-",
            value.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-.:".contains($0) })
        else { throw ConfigurationError("expected a host name or an IP address") }
        return value
    }

    static func list(_ value: String) -> [String] {
        value.split(separator: ",").map { String($0.trimmingCharacters(in: " \t")) }.filter { !$0.isEmpty }
    }

    /// A duration as `DurationText` writes it (`500ms`, `10s`, `5m`, `1h`, `1d`).
    static func duration(_ value: String, in range: ClosedRange<Duration>) throws(ConfigurationError) -> Duration {
        guard let duration = DurationText.parse(value, in: range) else {
            throw ConfigurationError(DurationText.expected(range))
        }
        return duration
    }

    /// `65536`, `512KiB`, `16MiB`, `1GiB`.
    static func size(_ value: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("", 1)]
        for (suffix, factor) in units where value.hasSuffix(suffix) {
            if let n = Int(value.dropLast(suffix.count)), n >= 0, n <= Int.max / factor, range.contains(n * factor) {
                return n * factor
            }
            break
        }
        throw ConfigurationError(
            "expected a size such as 16MiB, between \(range.lowerBound) and \(range.upperBound) bytes")
    }
}
