import Foundation

extension OperatorAPI {
    /// `GET /v1/instances/DOMAIN/history[?since=&until=&check=&raw_hours=&limit=]`: one instance's
    /// results over a window — the hours before `raw_since` as hourly rollups, the rest as raw results
    /// (the last `raw_hours` of the window, 24 unless asked), each oldest first.
    public struct History: Codable, Sendable, Hashable {
        /// The most raw results one answer holds (`limit`'s ceiling).
        public static let maxResults = 20_000
        /// The longest raw stretch one answer holds (`raw_hours`' ceiling): a week.
        public static let maxRawHours = 168

        public var instance: String
        public var serverTime: Date
        public var since: Date
        public var until: Date
        /// Where raw results start: hours before it are `hours`, results from it on are `results`.
        public var rawSince: Date
        public var hours: [HistoryHour]
        public var results: [HistoryResult]
        /// Set when `results` stopped at `limit`: the `collected_at` to ask again from (`since=`).
        public var next: Date?
        enum CodingKeys: String, CodingKey {
            case instance
            case serverTime = "server_time"
            case since, until
            case rawSince = "raw_since"
            case hours, results, next
        }

        public init(
            instance: String, serverTime: Date, since: Date, until: Date, rawSince: Date, hours: [HistoryHour],
            results: [HistoryResult], next: Date?
        ) {
            self.instance = instance
            self.serverTime = serverTime
            self.since = since
            self.until = until
            self.rawSince = rawSince
            self.hours = hours
            self.results = results
            self.next = next
        }
    }

    /// One check's hour, rolled up: its worst status, how many results had each status, and each
    /// metric's minimum, mean and maximum over the hour.
    public struct HistoryHour: Codable, Sendable, Hashable {
        public var hour: Date
        public var checkId: String
        public var worst: String
        public var ok: Int
        public var warning: Int
        public var critical: Int
        public var unknown: Int
        public var metrics: [String: MetricSummary]
        enum CodingKeys: String, CodingKey {
            case hour
            case checkId = "check_id"
            case worst, ok, warning, critical, unknown, metrics
        }

        public init(
            hour: Date, checkId: String, worst: String, ok: Int, warning: Int, critical: Int, unknown: Int,
            metrics: [String: MetricSummary]
        ) {
            self.hour = hour
            self.checkId = checkId
            self.worst = worst
            self.ok = ok
            self.warning = warning
            self.critical = critical
            self.unknown = unknown
            self.metrics = metrics
        }
    }

    public struct MetricSummary: Codable, Sendable, Hashable {
        public var min: Double
        public var avg: Double
        public var max: Double
        /// Results that carried the metric.
        public var samples: Int

        public init(min: Double, avg: Double, max: Double, samples: Int) {
            self.min = min
            self.avg = avg
            self.max = max
            self.samples = samples
        }
    }

    /// One check's result in one stored report.
    public struct HistoryResult: Codable, Sendable, Hashable {
        public var collectedAt: Date
        public var checkId: String
        public var status: String
        public var summary: String
        public var metrics: [String: Double]
        /// What its logs showed: error categories, signatures, counts and a redacted sample.
        public var findings: [FindingRow]
        enum CodingKeys: String, CodingKey {
            case collectedAt = "collected_at"
            case checkId = "check_id"
            case status, summary, metrics, findings
        }

        public init(
            collectedAt: Date, checkId: String, status: String, summary: String, metrics: [String: Double],
            findings: [FindingRow] = []
        ) {
            self.collectedAt = collectedAt
            self.checkId = checkId
            self.status = status
            self.summary = summary
            self.metrics = metrics
            self.findings = findings
        }
    }

    public struct FindingRow: Codable, Sendable, Hashable {
        public var category: String
        public var signature: String
        public var count: UInt64
        public var sample: String?

        public init(category: String, signature: String, count: UInt64, sample: String?) {
            self.category = category
            self.signature = signature
            self.count = count
            self.sample = sample
        }
    }
}

extension OperatorAPI {
    /// `POST /v1/notifications/test`: `{route}`, a route's number or `default`.
    public struct NotificationTestRequest: Codable, Sendable, Hashable {
        public var route: String
        public init(route: String) { self.route = route }
    }

    /// What a test notification through one route did, receiver by receiver.
    public struct NotificationTest: Codable, Sendable, Hashable {
        public var route: String
        public var receivers: [Outcome]

        public struct Outcome: Codable, Sendable, Hashable {
            public var receiver: String
            public var kind: String
            public var delivered: Bool
            /// Why not, as the receiver or its server answered.
            public var error: String?
            public init(receiver: String, kind: String, delivered: Bool, error: String?) {
                self.receiver = receiver
                self.kind = kind
                self.delivered = delivered
                self.error = error
            }
        }

        public init(route: String, receivers: [Outcome]) {
            self.route = route
            self.receivers = receivers
        }
    }
}
