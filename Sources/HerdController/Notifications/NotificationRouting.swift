import Foundation
import HerdProtocol

/// Where incidents' notifications go (`notify.*` in controller.conf, Controller/README.md "Paging"):
/// receivers by name, and routes, Alertmanager-like, that choose receivers by what an incident is — its
/// severity, kind, check, instance, error categories and the instance's attributes. Routes are tried in
/// their number's order; the first that matches takes the incident unless it says `continue`; an
/// incident no route takes goes to `notify.default` (every receiver when no route is configured).
public struct NotificationRouting: Sendable, Hashable {
    public var receivers: [String: Receiver] = [:]
    public var routes: [Int: Route] = [:]
    /// Receivers for incidents no route takes; nil: every receiver when there is no route, else none.
    public var defaultReceivers: [String]?
    /// An open critical incident nobody acknowledged is sent again this often (0: never), unless its
    /// route says otherwise.
    public var repeatInterval: Double = 4 * 3600
    /// When at least this many notifications of one instance are due for one receiver at once, they go
    /// as one digest instead of a burst.
    public var digestMinimum = 3

    public init() {}

    /// One receiver: how a notification reaches people.
    public struct Receiver: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// Herd's JSON (`format = json`) or Slack/Mattermost's `{"text": …}` (`format = slack`), POSTed.
            case webhook
            /// PagerDuty Events API v2: trigger, then resolve, deduplicated by incident.
            case pagerduty
            /// A Matrix room, by the client-server API with an access token.
            case matrix
            /// Email through an SMTP server, STARTTLS required beyond loopback.
            case email
        }
        public var kind: Kind
        /// webhook: the URL; pagerduty: the Events API URL; matrix: the homeserver; email: `smtp://HOST:PORT`.
        public var url = ""
        public var format = Format.json
        /// pagerduty: the routing key's file; matrix: the access token's; email: the password's (optional).
        public var secretFile: String?
        /// matrix: the room id (`!…:server`).
        public var room: String?
        /// email: sender, recipients, user name, whether STARTTLS is required, a CA file to trust.
        public var from: String?
        public var to: [String] = []
        public var username: String?
        public var startTLS = true
        public var caFile: String?

        public enum Format: String, Sendable, Hashable { case json, slack }

        public init(kind: Kind) { self.kind = kind }

        /// What this receiver's configuration lacks, if anything.
        var problem: String? {
            if url.isEmpty { return "no URL (notify.\(kind.rawValue).NAME = …)" }
            switch kind {
            case .webhook: return nil
            case .pagerduty: return secretFile == nil ? "no routing_key_file" : nil
            case .matrix:
                if room == nil { return "no room" }
                return secretFile == nil ? "no token_file" : nil
            case .email:
                if from == nil { return "no from" }
                if to.isEmpty { return "no to" }
                if username != nil, secretFile == nil { return "a username without password_file" }
                return nil
            }
        }
    }

    /// `notify.route.N.*`.
    public struct Route: Sendable, Hashable {
        public var matchers: [Matcher] = []
        public var receivers: [String] = []
        /// Overrides `notify.repeat_interval` for what this route takes.
        public var repeatInterval: Double?
        /// Go on to the next routes after this one matched.
        public var `continue` = false

        public init() {}
    }

    /// `KEY=VALUE`, `KEY!=VALUE`, or `severity>=VALUE`.
    public struct Matcher: Sendable, Hashable, CustomStringConvertible {
        public enum Operation: String, Sendable, Hashable { case equal = "=", notEqual = "!=", atLeast = ">=" }
        public var key: String
        public var operation: Operation
        public var value: String

        public var description: String { "\(key)\(operation.rawValue)\(value)" }

        /// Keys besides the instance's attributes (`provider`, `region`, `tag.NAME`, `attribute.NAME`, …).
        static let keys = ["severity", "kind", "check", "instance", "category"]
        static let severities = ["warning": 1, "unknown": 2, "critical": 3]

        /// Parses `severity>=critical check=sidekiq attribute.plan=premium` (space-separated).
        static func parseList(_ text: String) throws(SettingError) -> [Matcher] {
            var matchers: [Matcher] = []
            for word in text.split(separator: " ", omittingEmptySubsequences: true) {
                let word = String(word)
                let operation: Operation
                let parts: [Substring]
                if word.contains(">=") {
                    operation = .atLeast
                    parts = word.split(separator: ">=", maxSplits: 1, omittingEmptySubsequences: false)
                } else if word.contains("!=") {
                    operation = .notEqual
                    parts = word.split(separator: "!=", maxSplits: 1, omittingEmptySubsequences: false)
                } else {
                    operation = .equal
                    parts = word.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[1].utf8.count <= 253 else {
                    throw SettingError("expected KEY=VALUE, KEY!=VALUE or severity>=VALUE, got \(word)")
                }
                let key = String(parts[0])
                let value = String(parts[1])
                guard Self.keys.contains(key) || FleetRule.isAttributeName(key) else {
                    throw SettingError(
                        "unknown key \(key) (severity, kind, check, instance, category, \(FleetRule.attributes.joined(separator: ", ")), tag.NAME, attribute.NAME)"
                    )
                }
                if key == "severity", Self.severities[value] == nil {
                    throw SettingError("severity is warning, unknown or critical")
                }
                if operation == .atLeast, key != "severity" { throw SettingError(">= goes with severity only") }
                if key == "kind", !["instance", "fleet"].contains(value) {
                    throw SettingError("kind is instance or fleet")
                }
                matchers.append(Matcher(key: key, operation: operation, value: value))
            }
            guard !matchers.isEmpty else { throw SettingError("expected at least one KEY=VALUE") }
            return matchers
        }

        func matches(_ incident: IncidentFacts) -> Bool {
            if key == "severity", let wanted = Self.severities[value] {
                switch operation {
                case .equal: return incident.severity == wanted
                case .notEqual: return incident.severity != wanted
                case .atLeast: return incident.severity >= wanted
                }
            }
            let values: Set<String> =
                switch key {
                case "kind": [incident.kind]
                // A split instance's `disk@db-1` is routed by `check=disk` too.
                case "check": incident.check.map { [$0, CheckName.plain($0)] } ?? []
                case "instance": incident.instance.map { [$0] } ?? []
                case "category": incident.categories
                default: incident.attributes[key] ?? []
                }
            return (operation == .equal) == values.contains(value)
        }
    }

    /// What routes look at, read from the incident and its instance.
    struct IncidentFacts: Sendable, Hashable {
        var severity: Int
        var kind: String
        var check: String?
        var instance: String?
        var categories: Set<String>
        /// The instance's attributes (`region`, `tag.NAME`, `attribute.NAME`, …), or a fleet incident's group.
        var attributes: [String: Set<String>]
    }

    /// The receivers `incident` goes to, each with how often an unacknowledged critical repeats (0: never).
    func receivers(for incident: IncidentFacts) -> [(name: String, repeatInterval: Double)] {
        var chosen: [(String, Double)] = []
        func add(_ names: [String], _ interval: Double) {
            for name in names where receivers[name] != nil && !chosen.contains(where: { $0.0 == name }) {
                chosen.append((name, interval))
            }
        }
        var taken = false
        for number in routes.keys.sorted() {
            let route = routes[number]!
            guard route.matchers.allSatisfy({ $0.matches(incident) }) else { continue }
            taken = true
            add(route.receivers, route.repeatInterval ?? repeatInterval)
            if !route.continue { break }
        }
        if !taken {
            add(defaultReceivers ?? (routes.isEmpty ? receivers.keys.sorted() : []), repeatInterval)
        }
        return chosen
    }

    /// Every name a route or the default names must be a receiver.
    func problems() -> [String] {
        var problems: [String] = []
        for (name, receiver) in receivers.sorted(by: { $0.key < $1.key }) {
            if let problem = receiver.problem {
                problems.append("notify.\(receiver.kind.rawValue).\(name): \(problem)")
            }
        }
        for (number, route) in routes.sorted(by: { $0.key < $1.key }) {
            if route.matchers.isEmpty { problems.append("notify.route.\(number): no match") }
            if route.receivers.isEmpty { problems.append("notify.route.\(number): no receivers") }
            for name in route.receivers where receivers[name] == nil {
                problems.append("notify.route.\(number).receivers: no receiver \(name)")
            }
        }
        for name in defaultReceivers ?? [] where receivers[name] == nil {
            problems.append("notify.default: no receiver \(name)")
        }
        return problems
    }
}
