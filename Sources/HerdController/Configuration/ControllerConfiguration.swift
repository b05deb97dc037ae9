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
    public var rawRetentionDays = 14
    public var rollupRetentionDays = 400
    /// An instance whose agent has not reported for this many intervals is `silent`, and an incident.
    public var silenceIntervals = 3
    /// Thresholds of the pattern rules and the fleet-wide rule (`patterns.*`, `fleet.*`).
    public var patterns = PatternSettings()
    /// Webhook sinks by name (`notify.webhook.NAME = URL`, `notify.webhook.NAME.format = json|slack`).
    public var webhooks: [String: Webhook] = [:]
    /// How long an instance incident waits before it notifies, so that a fleet incident can absorb it.
    public var groupWait: Duration = .seconds(30)
    /// Approvals per risk class and how long a proposal may wait (`remediation.*`).
    public var remediation = RemediationPolicy()

    public struct Webhook: Sendable, Hashable {
        public enum Format: String, Sendable, Hashable { case json, slack }
        public var url: String
        public var format: Format = .json
    }

    /// The pattern engine these settings describe: the write path runs it on every stored result.
    public var patternEngine: PatternEngine {
        PatternEngine(
            settings: patterns, sinks: webhooks.keys.sorted(), groupWait: Double(groupWait.components.seconds))
    }

    public init(dataDirectory: String) {
        self.dataDirectory = dataDirectory
    }

    public var configurationFile: String { dataDirectory + "/controller.conf" }
    public var databaseFile: String { dataDirectory + "/herd.sqlite" }
    public var caCertificateFile: String { dataDirectory + "/ca/ca.pem" }
    public var caKeyFile: String { dataDirectory + "/ca/ca-key.pem" }
    public var serverCertificateFile: String { dataDirectory + "/tls/server.pem" }
    public var serverKeyFile: String { dataDirectory + "/tls/server-key.pem" }

    public static let keys = [
        "listen", "server_names", "server.idle_timeout", "server.request_timeout", "server.max_connections_per_address",
        "enrollment.auto_accept", "ingest.max_clock_skew", "ingest.max_batch",
        "retention.raw_days", "retention.rollup_days", "silence.intervals", "patterns.persistent.results",
        "patterns.persistent.duration", "patterns.persistent.resolve_results", "patterns.flapping.high",
        "patterns.flapping.low", "patterns.recurring.count", "patterns.recurring.window", "patterns.load.window",
        "patterns.load.start", "patterns.load.stop", "fleet.min_instances", "fleet.min_fraction", "fleet.min_group",
        "fleet.window", "notify.group_wait", "remediation.approvals.preview", "remediation.approvals.routine",
        "remediation.approvals.destructive", "remediation.ttl",
    ]

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
        for (name, hook) in configuration.webhooks where hook.url.isEmpty {
            throw ControllerConfigurationError(
                "\(source): notify.webhook.\(name).format without notify.webhook.\(name)")
        }
        guard configuration.patterns.flapping.low < configuration.patterns.flapping.high else {
            throw ControllerConfigurationError("\(source): patterns.flapping.low must be below patterns.flapping.high")
        }
        return configuration
    }

    mutating func set(_ key: String, _ value: String) throws(ControllerConfigurationError) {
        func integer(_ range: ClosedRange<Int>) throws(ControllerConfigurationError) -> Int {
            guard let n = Int(value), range.contains(n) else {
                throw ControllerConfigurationError(
                    "\(key): expected an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
        /// A duration (`DurationText`) between `range`'s bounds in seconds, as seconds.
        func seconds(_ range: ClosedRange<Int>) throws(ControllerConfigurationError) -> Double {
            let bounds = Duration.seconds(range.lowerBound)...Duration.seconds(range.upperBound)
            guard let duration = DurationText.parse(value, in: bounds) else {
                throw ControllerConfigurationError("\(key): \(DurationText.expected(bounds))")
            }
            return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        func number(_ range: ClosedRange<Double>) throws(ControllerConfigurationError) -> Double {
            guard let n = Double(value), range.contains(n) else {
                throw ControllerConfigurationError(
                    "\(key): expected a number in \(range.lowerBound)...\(range.upperBound)")
            }
            return n
        }
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
        if key.hasPrefix("notify.webhook.") {
            var name = String(key.dropFirst("notify.webhook.".count))
            let isFormat = name.hasSuffix(".format")
            if isFormat { name = String(name.dropLast(".format".count)) }
            guard Rule.isIdentifier(name) else {
                throw ControllerConfigurationError("\(key): a sink name is an identifier")
            }
            var hook = webhooks[name] ?? Webhook(url: "")
            if isFormat {
                guard let format = Webhook.Format(rawValue: value) else {
                    throw ControllerConfigurationError("\(key): expected json or slack")
                }
                hook.format = format
            } else {
                guard Self.isWebhookURL(value) else {
                    throw ControllerConfigurationError("\(key): expected an https:// URL (http:// only to loopback)")
                }
                hook.url = value
            }
            webhooks[name] = hook
            return
        }
        switch key {
        case "patterns.persistent.results": patterns.persistent.results = try integer(1...21)
        case "patterns.persistent.duration": patterns.persistent.seconds = try seconds(0...604_800)
        case "patterns.persistent.resolve_results": patterns.persistent.resolveResults = try integer(1...21)
        case "patterns.flapping.high": patterns.flapping.high = try number(1...100)
        case "patterns.flapping.low": patterns.flapping.low = try number(0...100)
        case "patterns.recurring.count": patterns.recurring.count = try integer(1...32)
        case "patterns.recurring.window": patterns.recurring.window = try integer(2...32)
        case "patterns.load.window": patterns.load.window = try integer(5...120)
        case "patterns.load.start": patterns.load.start = try number(0...1)
        case "patterns.load.stop": patterns.load.stop = try number(-1...1)
        case "fleet.min_instances": patterns.fleet.minInstances = try integer(2...100_000)
        case "fleet.min_fraction": patterns.fleet.minFraction = try number(0.01...1)
        case "fleet.min_group": patterns.fleet.minGroup = try integer(2...100_000)
        case "fleet.window": patterns.fleet.windowSeconds = try seconds(60...86_400)
        case "notify.group_wait": groupWait = .seconds(try seconds(0...3600))
        case "remediation.approvals.preview": remediation.approvals[.preview] = try integer(0...5)
        case "remediation.approvals.routine": remediation.approvals[.routine] = try integer(1...5)
        case "remediation.approvals.destructive": remediation.approvals[.destructive] = try integer(1...5)
        case "remediation.ttl": remediation.ttl = try seconds(60...3600)
        case "listen":
            guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]),
                (1...65535).contains(port), colon > value.startIndex
            else { throw ControllerConfigurationError("listen: expected HOST:PORT") }
            var host = String(value[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }) else {
                throw ControllerConfigurationError("listen: expected HOST:PORT")
            }
            listenHost = host
            listenPort = port
        case "server_names":
            let names = value.split(separator: ",").map { String($0.trimmed(" \t")) }.filter { !$0.isEmpty }
            guard !names.isEmpty, names.count <= 32,
                names.allSatisfy({ name in
                    name.utf8.count <= 253
                        && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || ".:-".contains($0)) }
                })
            else { throw ControllerConfigurationError("server_names: expected host names or IP addresses") }
            serverNames = names
        case "enrollment.auto_accept":
            switch value {
            case "true", "yes": autoAccept = true
            case "false", "no": autoAccept = false
            default: throw ControllerConfigurationError("\(key): expected true or false")
            }
        case "ingest.max_clock_skew": maxClockSkew = .seconds(try seconds(1...86_400))
        case "ingest.max_batch": maxBatch = try integer(1...10_000)
        case "server.idle_timeout": idleTimeout = .seconds(try seconds(5...3600))
        case "server.request_timeout": requestTimeout = .seconds(try seconds(1...600))
        case "server.max_connections_per_address": maxConnectionsPerAddress = try integer(2...100_000)
        case "retention.raw_days": rawRetentionDays = try integer(1...3650)
        case "retention.rollup_days": rollupRetentionDays = try integer(1...3650)
        case "silence.intervals": silenceIntervals = try integer(1...1000)
        default: throw ControllerConfigurationError("unknown key \(key)")
        }
    }

    /// Seconds kept as a `Double`, written as a duration.
    static func duration(_ seconds: Double) -> String {
        DurationText.format(.milliseconds(Int64((seconds * 1000).rounded())))
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
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
        let host = listenHost.contains(":") ? "[\(listenHost)]" : listenHost
        let values: [String: String] = [
            "listen": "\(host):\(listenPort)", "server_names": serverNames.joined(separator: ", "),
            "enrollment.auto_accept": String(autoAccept),
            "ingest.max_clock_skew": DurationText.format(maxClockSkew), "ingest.max_batch": String(maxBatch),
            "server.idle_timeout": DurationText.format(idleTimeout),
            "server.request_timeout": DurationText.format(requestTimeout),
            "server.max_connections_per_address": String(maxConnectionsPerAddress),
            "retention.raw_days": String(rawRetentionDays), "retention.rollup_days": String(rollupRetentionDays),
            "silence.intervals": String(silenceIntervals),
            "patterns.persistent.results": String(patterns.persistent.results),
            "patterns.persistent.duration": Self.duration(patterns.persistent.seconds),
            "patterns.persistent.resolve_results": String(patterns.persistent.resolveResults),
            "patterns.flapping.high": Self.number(patterns.flapping.high),
            "patterns.flapping.low": Self.number(patterns.flapping.low),
            "patterns.recurring.count": String(patterns.recurring.count),
            "patterns.recurring.window": String(patterns.recurring.window),
            "patterns.load.window": String(patterns.load.window),
            "patterns.load.start": Self.number(patterns.load.start),
            "patterns.load.stop": Self.number(patterns.load.stop),
            "fleet.min_instances": String(patterns.fleet.minInstances),
            "fleet.min_fraction": Self.number(patterns.fleet.minFraction),
            "fleet.min_group": String(patterns.fleet.minGroup),
            "fleet.window": Self.duration(patterns.fleet.windowSeconds),
            "notify.group_wait": DurationText.format(groupWait),
            "remediation.approvals.preview": String(remediation.required(.preview)),
            "remediation.approvals.routine": String(remediation.required(.routine)),
            "remediation.approvals.destructive": String(remediation.required(.destructive)),
            "remediation.ttl": Self.duration(remediation.ttl),
        ]
        return Self.keys.map { "\($0) = \(values[$0]!)" }.joined(separator: "\n") + "\n"
    }
}
