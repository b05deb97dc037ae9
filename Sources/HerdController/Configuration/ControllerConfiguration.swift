import Foundation
import HerdProtocol

/// A controller configuration that cannot be used: `FILE:LINE: problem`.
public struct ControllerConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The controller's settings, read from `DATA_DIR/controller.conf` (`key = value`, see
/// Controller/controller.conf.example). Paths are inside the data directory.
public struct ControllerConfiguration: Sendable, Hashable {
    public var dataDirectory: String
    public var listenHost = "127.0.0.1"
    public var listenPort = 8443
    /// DNS names and IP addresses in the server certificate (agents verify the controller by them).
    public var serverNames = ["localhost", "127.0.0.1"]
    /// Tokens from `herdctl agents token` accept their agent at once; otherwise enrollments wait in
    /// `herdctl agents pending`. A token can override it either way.
    public var autoAccept = true
    public var maxClockSkew: Duration = .seconds(300)
    /// Group commit: at most this many reports per transaction.
    public var maxBatch = 512
    /// A connection with no request under way (handshake, headers, between requests) is closed after this.
    public var idleTimeout: Duration = .seconds(90)
    /// A request must be read whole (head and body) within this of its first bytes.
    public var requestTimeout: Duration = .seconds(30)
    /// Open connections one client address may hold; more are closed at once (raise it for many agents
    /// behind one NAT address: each holds two).
    public var maxConnectionsPerAddress = 64
    /// `sqlite` (the file `herd.sqlite` in the data directory) or a `postgresql://` URL
    /// (`PostgresStoreSettings`): where reports, incidents and the audit log are kept.
    public var store = "sqlite"
    public var rawRetentionDays = 14
    public var rollupRetentionDays = 400
    /// An instance whose agent has not reported for this many intervals is `silent`, and an incident.
    public var silenceIntervals = 3
    /// Thresholds of the pattern rules and the fleet-wide rule (`patterns.*`, `fleet.*`).
    public var patterns = PatternSettings()
    /// Receivers and the routes to them (`notify.*`, Controller/README.md "Paging").
    public var notify = NotificationRouting()
    /// How long an instance incident waits before it notifies, so that a fleet incident can absorb it.
    public var groupWait: Duration = .seconds(30)
    /// Approvals per risk class and how long a proposal may wait (`remediation.*`).
    public var remediation = RemediationPolicy()
    /// `/metrics`, `/health` and `/ready` on a listener of their own (`metrics.listen`, or nil: `off`).
    public var metricsHost: String? = "127.0.0.1"
    public var metricsPort = 9469
    /// `metrics.tls = mutual`: the metrics listener takes TLS with the fleet CA's client certificates,
    /// and `/metrics` an operator's; required to listen beyond loopback.
    public var metricsMutualTLS = false
    /// `herd_check_status` for every instance × check (one series each): off for fleets whose
    /// Prometheus should not carry them.
    public var metricsPerInstance = true

    /// The pattern engine these settings describe: the write path runs it on every stored result.
    public var patternEngine: PatternEngine {
        PatternEngine(
            settings: patterns, routing: notify, groupWait: Double(groupWait.components.seconds))
    }

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    public var configurationFile: String { dataDirectory + "/controller.conf" }
    public var databaseFile: String { dataDirectory + "/herd.sqlite" }
    /// What `Store(location:)` opens: the SQLite file, or the PostgreSQL URL.
    public var storeLocation: String { store == "sqlite" ? databaseFile : store }
    public var caCertificateFile: String { dataDirectory + "/ca/ca.pem" }
    public var caKeyFile: String { dataDirectory + "/ca/ca-key.pem" }
    public var serverCertificateFile: String { dataDirectory + "/tls/server.pem" }
    public var serverKeyFile: String { dataDirectory + "/tls/server-key.pem" }

    /// Every fixed key, in the order `render` writes them (besides: receivers `notify.TYPE.NAME[.FIELD]`,
    /// routes `notify.route.N.FIELD`, and `patterns.persistent.check.ID`).
    public static var keys: [String] { settings.map(\.name) }

    /// Every fixed key, declared once: its name, type and bounds; the default is the property's own.
    static var settings: [SettingKey<ControllerConfiguration>] {
        typealias Key = SettingKey<ControllerConfiguration>
        func approvals(_ risk: CommandAction.Risk, _ range: ClosedRange<Int>) -> Key {
            Key(
                "remediation.approvals.\(risk.rawValue)",
                read: { settings, text throws(SettingError) in
                    settings.remediation.approvals[risk] = try SettingValue.integer(text, in: range)
                }, write: { String($0.remediation.required(risk)) })
        }
        return [
            Key(
                "listen",
                read: { settings, text throws(SettingError) in
                    (settings.listenHost, settings.listenPort) = try Self.listenAddress(text)
                },
                write: { "\($0.listenHost.contains(":") ? "[\($0.listenHost)]" : $0.listenHost):\($0.listenPort)" }),
            .value(
                "server_names", \.serverNames,
                parse: { text throws(SettingError) in
                    let names = SettingValue.list(text)
                    guard !names.isEmpty, names.count <= 32,
                        names.allSatisfy({ name in
                            name.utf8.count <= 253
                                && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }
                        })
                    else { throw SettingError("expected host names or IP addresses") }
                    return names
                }, format: { $0.joined(separator: ", ") }),
            .duration("server.idle_timeout", \.idleTimeout, in: .seconds(5)...(.seconds(3600))),
            .duration("server.request_timeout", \.requestTimeout, in: .seconds(1)...(.seconds(600))),
            .integer("server.max_connections_per_address", \.maxConnectionsPerAddress, in: 2...100_000),
            .value(
                "store", \.store,
                parse: { text throws(SettingError) in
                    guard text != "sqlite" else { return text }
                    do {
                        _ = try PostgresStoreSettings(url: text)
                    } catch {
                        throw SettingError("expected sqlite or a postgresql:// URL (\(error))")
                    }
                    return text
                }, format: { $0 }),
            .bool("enrollment.auto_accept", \.autoAccept),
            .duration("ingest.max_clock_skew", \.maxClockSkew, in: .seconds(1)...(.seconds(86_400))),
            .integer("ingest.max_batch", \.maxBatch, in: 1...10_000),
            .integer("retention.raw_days", \.rawRetentionDays, in: 1...3650),
            .integer("retention.rollup_days", \.rollupRetentionDays, in: 1...3650),
            .integer("silence.intervals", \.silenceIntervals, in: 1...1000),
            .integer("patterns.persistent.results", \.patterns.persistent.results, in: 1...21),
            .seconds("patterns.persistent.duration", \.patterns.persistent.seconds, in: .zero...(.seconds(604_800))),
            .integer("patterns.persistent.resolve_results", \.patterns.persistent.resolveResults, in: 1...21),
            .number("patterns.flapping.high", \.patterns.flapping.high, in: 1...100),
            .number("patterns.flapping.low", \.patterns.flapping.low, in: 0...100),
            .integer("patterns.recurring.count", \.patterns.recurring.count, in: 1...32),
            .integer("patterns.recurring.window", \.patterns.recurring.window, in: 2...32),
            .integer("patterns.load.window", \.patterns.load.window, in: 5...120),
            .number("patterns.load.start", \.patterns.load.start, in: 0...1),
            .number("patterns.load.stop", \.patterns.load.stop, in: -1...1),
            .integer("fleet.min_instances", \.patterns.fleet.minInstances, in: 2...100_000),
            .number("fleet.min_fraction", \.patterns.fleet.minFraction, in: 0.01...1),
            .integer("fleet.min_group", \.patterns.fleet.minGroup, in: 2...100_000),
            .seconds("fleet.window", \.patterns.fleet.windowSeconds, in: .seconds(60)...(.seconds(86_400))),
            .duration("notify.group_wait", \.groupWait, in: .zero...(.seconds(3600))),
            .seconds("notify.repeat_interval", \.notify.repeatInterval, in: .zero...(.seconds(7 * 86_400))),
            .integer("notify.digest_min", \.notify.digestMinimum, in: 2...1000),
            Key(
                "notify.default",
                read: { settings, text throws(SettingError) in
                    let names = SettingValue.list(text)
                    guard names.allSatisfy(Rule.isIdentifier) else { throw SettingError("expected receiver names") }
                    settings.notify.defaultReceivers = names.isEmpty ? nil : names
                }, write: { $0.notify.defaultReceivers.map { $0.joined(separator: ", ") } ?? "" }),
            approvals(.preview, 0...5),
            approvals(.routine, 1...5),
            approvals(.destructive, 1...5),
            .seconds("remediation.ttl", \.remediation.ttl, in: .seconds(60)...(.seconds(3600))),
            Key(
                "metrics.listen",
                read: { settings, text throws(SettingError) in
                    if text == "off" {
                        settings.metricsHost = nil
                    } else {
                        (settings.metricsHost, settings.metricsPort) = try Self.listenAddress(text)
                    }
                },
                write: { settings in
                    guard let host = settings.metricsHost else { return "off" }
                    return "\(host.contains(":") ? "[\(host)]" : host):\(settings.metricsPort)"
                }),
            .value(
                "metrics.tls", \.metricsMutualTLS,
                parse: { text throws(SettingError) in
                    switch text {
                    case "off": return false
                    case "mutual": return true
                    default: throw SettingError("expected off or mutual")
                    }
                }, format: { $0 ? "mutual" : "off" }),
            .bool("metrics.per_instance", \.metricsPerInstance),
        ]
    }

    /// `HOST:PORT`, the host a name or an address (IPv6 in brackets).
    static func listenAddress(_ text: String) throws(SettingError) -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port), colon > text.startIndex
        else { throw SettingError("expected HOST:PORT") }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }) else {
            throw SettingError("expected HOST:PORT")
        }
        return (host, port)
    }

    public static func load(dataDirectory: String) throws(ControllerConfigurationError) -> ControllerConfiguration {
        let file = dataDirectory + "/controller.conf"
        let text: String
        do {
            text = try SecureFile.readText(file, maxBytes: 1 << 20)
        } catch {
            throw ControllerConfigurationError("\(error) (run herd-controller init --data-dir \(dataDirectory))")
        }
        return try parse(text, source: file, dataDirectory: dataDirectory)
    }

    public static func parse(_ text: String, source: String, dataDirectory: String)
        throws(ControllerConfigurationError) -> ControllerConfiguration
    {
        var configuration = ControllerConfiguration(dataDirectory: dataDirectory)
        let entries: [KeyValueFile.Entry]
        do {
            entries = try KeyValueFile.parse(text)
        } catch {
            throw ControllerConfigurationError("\(source):\(error.line): \(error.problem)")
        }
        for entry in entries {
            do {
                try configuration.set(entry.key, entry.value)
            } catch {
                throw ControllerConfigurationError("\(source):\(entry.line): \(error.description)")
            }
        }
        if let problem = configuration.notify.problems().first {
            throw ControllerConfigurationError("\(source): \(problem)")
        }
        for (name, receiver) in configuration.notify.receivers where receiver.kind == .email && !receiver.startTLS {
            if let (host, _) = smtpAddress(receiver.url), !isLoopback(host) {
                throw ControllerConfigurationError(
                    "\(source): notify.email.\(name).starttls = off only to a loopback SMTP server")
            }
        }
        if let host = configuration.metricsHost, !configuration.metricsMutualTLS, !Self.isLoopback(host) {
            throw ControllerConfigurationError(
                "\(source): metrics.listen on \(host) needs metrics.tls = mutual (plain HTTP only on loopback)")
        }
        guard configuration.patterns.flapping.low < configuration.patterns.flapping.high else {
            throw ControllerConfigurationError("\(source): patterns.flapping.low must be below patterns.flapping.high")
        }
        return configuration
    }

    mutating func set(_ key: String, _ value: String) throws(ControllerConfigurationError) {
        if key.hasPrefix("patterns.persistent.check.") {
            // RESULTS/DURATION/RESOLVE_RESULTS for one check, e.g. 5/300s/3.
            let check = String(key.dropFirst("patterns.persistent.check.".count))
            let parts = value.split(separator: "/").map { String($0.trimmed(" ")) }
            guard Rule.isIdentifier(check), parts.count == 3, let results = Int(parts[0]), (1...21).contains(results),
                let duration = DurationText.parse(parts[1], in: .zero...(.seconds(604_800))),
                let resolve = Int(parts[2]), (1...21).contains(resolve)
            else { throw ControllerConfigurationError("\(key): expected RESULTS/DURATION/RESOLVE such as 5/5m/2") }
            var limits = PatternSettings.Persistent()
            limits.results = results
            limits.seconds = Double(duration.components.seconds)
            limits.resolveResults = resolve
            patterns.persistent.overrides[check] = limits
            return
        }
        if key.hasPrefix("notify.route.") {
            try setRoute(key, value)
            return
        }
        if let kind = NotificationRouting.Receiver.Kind.allCases.first(where: {
            key.hasPrefix("notify.\($0.rawValue).")
        }) {
            try setReceiver(kind, key, value)
            return
        }
        guard let setting = Self.settings.first(where: { $0.name == key }) else {
            throw ControllerConfigurationError("unknown key \(key)")
        }
        do {
            try setting.read(&self, value)
        } catch {
            throw ControllerConfigurationError("\(key): \(error.problem)")
        }
    }

    /// 127.0.0.0/8, ::1 or localhost.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// `notify.route.N.match|receivers|repeat_interval|continue`, N in 1…999.
    private mutating func setRoute(_ key: String, _ value: String) throws(ControllerConfigurationError) {
        let parts = key.split(separator: ".").map(String.init)
        guard parts.count == 4, let number = Int(parts[2]), (1...999).contains(number) else {
            throw ControllerConfigurationError("\(key): expected notify.route.N.FIELD, N from 1 to 999")
        }
        var route = notify.routes[number] ?? NotificationRouting.Route()
        do throws(SettingError) {
            switch parts[3] {
            case "match": route.matchers = try NotificationRouting.Matcher.parseList(value)
            case "receivers":
                route.receivers = SettingValue.list(value)
                guard !route.receivers.isEmpty, route.receivers.allSatisfy(Rule.isIdentifier) else {
                    throw SettingError("expected receiver names")
                }
            case "repeat_interval":
                guard let duration = DurationText.parse(value, in: .zero...(.seconds(7 * 86_400))) else {
                    throw SettingError(DurationText.expected(.zero...(.seconds(7 * 86_400))))
                }
                route.repeatInterval = Double(duration.components.seconds)
            case "continue": route.continue = try SettingValue.bool(value)
            default: throw SettingError("unknown field (match, receivers, repeat_interval, continue)")
            }
        } catch {
            throw ControllerConfigurationError("\(key): \(error.problem)")
        }
        notify.routes[number] = route
    }

    /// `notify.TYPE.NAME = URL` and `notify.TYPE.NAME.FIELD = VALUE`.
    private mutating func setReceiver(_ kind: NotificationRouting.Receiver.Kind, _ key: String, _ value: String)
        throws(ControllerConfigurationError)
    {
        let rest = key.dropFirst("notify.\(kind.rawValue).".count).split(separator: ".", maxSplits: 1).map(String.init)
        guard let name = rest.first, Rule.isIdentifier(name) else {
            throw ControllerConfigurationError("\(key): a receiver name is an identifier")
        }
        var receiver = notify.receivers[name] ?? NotificationRouting.Receiver(kind: kind)
        guard receiver.kind == kind else {
            throw ControllerConfigurationError("\(key): \(name) is already a \(receiver.kind.rawValue) receiver")
        }
        let field = rest.count > 1 ? rest[1] : nil
        func path() throws(ControllerConfigurationError) -> String {
            guard value.hasPrefix("/"), value.utf8.count <= 4096, !value.contains("\u{0}") else {
                throw ControllerConfigurationError("\(key): expected an absolute path")
            }
            return value
        }
        switch (kind, field) {
        case (.email, nil):
            guard Self.smtpAddress(value) != nil else {
                throw ControllerConfigurationError("\(key): expected smtp://HOST:PORT")
            }
            receiver.url = value
        case (_, nil):
            guard Self.isWebhookURL(value) else {
                throw ControllerConfigurationError("\(key): expected an https:// URL (http:// only to loopback)")
            }
            receiver.url = value
        case (.webhook, "format"):
            guard let format = NotificationRouting.Receiver.Format(rawValue: value) else {
                throw ControllerConfigurationError("\(key): expected json or slack")
            }
            receiver.format = format
        case (.pagerduty, "routing_key_file"), (.matrix, "token_file"), (.email, "password_file"):
            receiver.secretFile = try path()
        case (.email, "ca_file"): receiver.caFile = try path()
        case (.matrix, "room"):
            guard value.hasPrefix("!"), value.contains(":"), value.utf8.count <= 255,
                !value.contains(where: { $0.isWhitespace || $0.isNewline })
            else { throw ControllerConfigurationError("\(key): expected a room id such as !abc123:example.org") }
            receiver.room = value
        case (.email, "from"):
            guard Self.isMailbox(value) else { throw ControllerConfigurationError("\(key): expected an address") }
            receiver.from = value
        case (.email, "to"):
            let addresses = SettingValue.list(value)
            guard !addresses.isEmpty, addresses.count <= 50, addresses.allSatisfy(Self.isMailbox) else {
                throw ControllerConfigurationError("\(key): expected addresses separated by commas")
            }
            receiver.to = addresses
        case (.email, "username"):
            guard !value.isEmpty, value.utf8.count <= 255,
                value.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline })
            else { throw ControllerConfigurationError("\(key): expected a user name") }
            receiver.username = value
        case (.email, "starttls"):
            switch value {
            case "required": receiver.startTLS = true
            case "off": receiver.startTLS = false
            default: throw ControllerConfigurationError("\(key): expected required or off")
            }
        default:
            throw ControllerConfigurationError("\(key): unknown field of a \(kind.rawValue) receiver")
        }
        notify.receivers[name] = receiver
    }

    /// `smtp://HOST:PORT`: the host and port.
    static func smtpAddress(_ url: String) -> (host: String, port: Int)? {
        guard url.hasPrefix("smtp://") else { return nil }
        return try? listenAddress(String(url.dropFirst("smtp://".count)))
    }

    /// `local@domain`, plain ASCII, no spaces or angle brackets (nothing to inject into SMTP).
    static func isMailbox(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && Rule.isInstanceName(String(parts[1]).lowercased())
            && value.utf8.count <= 254
            && parts[0].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".+-_".contains($0)) }
    }

    /// `https://…`, or `http://` to a loopback address (a local relay); no credentials in the URL.
    static func isWebhookURL(_ value: String) -> Bool {
        guard value.utf8.count <= 2048, !value.contains(where: { $0.isWhitespace || $0 == "@" }) else { return false }
        if value.hasPrefix("https://") { return value.count > "https://".count }
        for loopback in ["http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:", "http://localhost:"]
        where value.hasPrefix(loopback) {
            return true
        }
        return false
    }

    public func render() -> String {
        SettingKey.render(Self.settings, self).joined(separator: "\n") + "\n"
    }
}
