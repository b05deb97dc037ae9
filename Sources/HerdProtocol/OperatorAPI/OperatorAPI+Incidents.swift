/// Incidents, patterns and silences in the operator API (Controller/README.md).
extension OperatorAPI {
    public struct Diagnosis: Codable, Sendable, Hashable {
        public var rule: String
        public var cause: String
        public var evidence: [String]
        public var nextStep: String
        public var action: String?
        public var parameters: [String: String]?
        enum CodingKeys: String, CodingKey {
            case rule, cause, evidence, action, parameters
            case nextStep = "next_step"
        }

        public init(
            rule: String, cause: String, evidence: [String], nextStep: String, action: String?,
            parameters: [String: String]?
        ) {
            self.rule = rule
            self.cause = cause
            self.evidence = evidence
            self.nextStep = nextStep
            self.action = action
            self.parameters = parameters
        }
    }

    public struct IncidentRow: Codable, Sendable, Hashable {
        public var id: Int64
        /// `instance` or `fleet`.
        public var kind: String
        public var instance: String?
        public var checkId: String?
        /// Instance incidents: every check it holds — its own (`check_id`) first, then the symptoms that
        /// the same cause explains and that therefore opened no incident of their own.
        public var checks: [String]
        public var subject: String
        /// Fleet incidents: the attribute their members share, and its value.
        public var group: String?
        public var patterns: [String]
        public var categories: [String]
        /// `warning`, `unknown` or `critical`: the worst seen while open.
        public var severity: String
        /// `open` or `resolved`.
        public var state: String
        public var openedAt: Date
        public var updatedAt: Date
        public var acknowledgedBy: String?
        public var acknowledgedAt: Date?
        public var resolvedAt: Date?
        /// `self` (recovered by itself) or `remediation`.
        public var resolution: String?
        public var parentId: Int64?
        public var members: Int
        public var openMembers: Int
        public var summary: String
        public var diagnosis: Diagnosis?
        enum CodingKeys: String, CodingKey {
            case id, kind, instance, checks, subject, group, patterns, categories, severity, state, resolution, members
            case summary, diagnosis
            case checkId = "check_id"
            case openedAt = "opened_at"
            case updatedAt = "updated_at"
            case acknowledgedBy = "acknowledged_by"
            case acknowledgedAt = "acknowledged_at"
            case resolvedAt = "resolved_at"
            case parentId = "parent_id"
            case openMembers = "open_members"
        }

        public init(
            id: Int64, kind: String, instance: String?, checkId: String?, checks: [String], subject: String,
            group: String?,
            patterns: [String], categories: [String], severity: String, state: String, openedAt: Date,
            updatedAt: Date, acknowledgedBy: String?, acknowledgedAt: Date?, resolvedAt: Date?,
            resolution: String?, parentId: Int64?, members: Int, openMembers: Int, summary: String,
            diagnosis: Diagnosis?
        ) {
            self.id = id
            self.kind = kind
            self.instance = instance
            self.checkId = checkId
            self.checks = checks
            self.subject = subject
            self.group = group
            self.patterns = patterns
            self.categories = categories
            self.severity = severity
            self.state = state
            self.openedAt = openedAt
            self.updatedAt = updatedAt
            self.acknowledgedBy = acknowledgedBy
            self.acknowledgedAt = acknowledgedAt
            self.resolvedAt = resolvedAt
            self.resolution = resolution
            self.parentId = parentId
            self.members = members
            self.openMembers = openMembers
            self.summary = summary
            self.diagnosis = diagnosis
        }
    }

    /// `GET /v1/incidents[?state=open]`
    public struct Incidents: Codable, Sendable, Hashable {
        public var serverTime: Date
        public var incidents: [IncidentRow]
        /// Set when the page is full: ask again with `before=` this id for the older ones.
        public var nextBefore: Int64?
        enum CodingKeys: String, CodingKey {
            case incidents
            case serverTime = "server_time"
            case nextBefore = "next_before"
        }

        public init(serverTime: Date, incidents: [IncidentRow], nextBefore: Int64? = nil) {
            self.serverTime = serverTime
            self.incidents = incidents
            self.nextBefore = nextBefore
        }
    }

    public struct IncidentEvent: Codable, Sendable, Hashable {
        public var at: Date
        public var kind: String
        public var actor: String?
        public var detail: String
        public init(at: Date, kind: String, actor: String?, detail: String) {
            self.at = at
            self.kind = kind
            self.actor = actor
            self.detail = detail
        }
    }

    public struct NotificationRow: Codable, Sendable, Hashable {
        public var transition: String
        public var sink: String
        /// `pending sent suppressed silenced cancelled failed`
        public var state: String
        public var attempts: Int
        public var sentAt: Date?
        public var lastError: String?
        enum CodingKeys: String, CodingKey {
            case transition, sink, state, attempts
            case sentAt = "sent_at"
            case lastError = "last_error"
        }

        public init(
            transition: String, sink: String, state: String, attempts: Int, sentAt: Date?, lastError: String?
        ) {
            self.transition = transition
            self.sink = sink
            self.state = state
            self.attempts = attempts
            self.sentAt = sentAt
            self.lastError = lastError
        }
    }

    /// `GET /v1/incidents/ID`: the incident, its timeline, its members (fleet incidents) and notifications.
    public struct IncidentDetail: Codable, Sendable, Hashable {
        public var serverTime: Date
        public var incident: IncidentRow
        public var timeline: [IncidentEvent]
        public var members: [IncidentRow]
        public var notifications: [NotificationRow]
        enum CodingKeys: String, CodingKey {
            case incident, timeline, members, notifications
            case serverTime = "server_time"
        }

        public init(
            serverTime: Date, incident: IncidentRow, timeline: [IncidentEvent], members: [IncidentRow],
            notifications: [NotificationRow]
        ) {
            self.serverTime = serverTime
            self.incident = incident
            self.timeline = timeline
            self.members = members
            self.notifications = notifications
        }
    }

    public struct PatternRow: Codable, Sendable, Hashable {
        public var instance: String
        public var checkId: String
        public var status: String
        public var patterns: [String]
        /// The last raw statuses, oldest first (`o w c u`).
        public var recent: String
        public var troubleSince: Date?
        public var summary: String
        enum CodingKeys: String, CodingKey {
            case instance, status, patterns, recent, summary
            case checkId = "check_id"
            case troubleSince = "trouble_since"
        }

        public init(
            instance: String, checkId: String, status: String, patterns: [String], recent: String,
            troubleSince: Date?, summary: String
        ) {
            self.instance = instance
            self.checkId = checkId
            self.status = status
            self.patterns = patterns
            self.recent = recent
            self.troubleSince = troubleSince
            self.summary = summary
        }
    }

    /// `GET /v1/patterns`: every check with an active pattern right now.
    public struct Patterns: Codable, Sendable, Hashable {
        public var serverTime: Date
        public var patterns: [PatternRow]
        enum CodingKeys: String, CodingKey {
            case patterns
            case serverTime = "server_time"
        }

        public init(serverTime: Date, patterns: [PatternRow]) {
            self.serverTime = serverTime
            self.patterns = patterns
        }
    }

    /// `POST /v1/silences`. Scope `instance` (a domain), `check` (a check id), `category` (an error
    /// category) or `group` (`ATTRIBUTE=VALUE`, e.g. `object_storage_endpoint=s3.example.net`).
    public struct SilenceRequest: Codable, Sendable, Hashable {
        public var scope: String
        public var value: String
        /// nil: now.
        public var startsAt: Date?
        public var endsAt: Date
        public var reason: String
        enum CodingKeys: String, CodingKey {
            case scope, value, reason
            case startsAt = "starts_at"
            case endsAt = "ends_at"
        }

        public init(scope: String, value: String, startsAt: Date?, endsAt: Date, reason: String) {
            self.scope = scope
            self.value = value
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.reason = reason
        }
    }

    public struct Silence: Codable, Sendable, Hashable {
        public var id: Int64
        public var scope: String
        public var value: String
        public var startsAt: Date
        public var endsAt: Date
        public var createdBy: String
        public var reason: String
        public var createdAt: Date
        public var expiredAt: Date?
        public var expiredBy: String?
        enum CodingKeys: String, CodingKey {
            case id, scope, value, reason
            case startsAt = "starts_at"
            case endsAt = "ends_at"
            case createdBy = "created_by"
            case createdAt = "created_at"
            case expiredAt = "expired_at"
            case expiredBy = "expired_by"
        }

        public init(
            id: Int64, scope: String, value: String, startsAt: Date, endsAt: Date, createdBy: String,
            reason: String, createdAt: Date, expiredAt: Date?, expiredBy: String?
        ) {
            self.id = id
            self.scope = scope
            self.value = value
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.createdBy = createdBy
            self.reason = reason
            self.createdAt = createdAt
            self.expiredAt = expiredAt
            self.expiredBy = expiredBy
        }
    }

    /// `GET /v1/silences[?all=true]`
    public struct Silences: Codable, Sendable, Hashable {
        public var serverTime: Date
        public var silences: [Silence]
        enum CodingKeys: String, CodingKey {
            case silences
            case serverTime = "server_time"
        }

        public init(serverTime: Date, silences: [Silence]) {
            self.serverTime = serverTime
            self.silences = silences
        }
    }
}

extension OperatorAPI {
    /// `POST /v1/instances/DOMAIN/attributes`: operator attributes to set and to remove (grouping keys for
    /// fleet incidents and silences, as `attribute.NAME`).
    public struct AttributesRequest: Codable, Sendable, Hashable {
        public var set: [String: String]
        public var remove: [String]

        public init(set: [String: String], remove: [String]) {
            self.set = set
            self.remove = remove
        }
    }

    public struct Attributes: Codable, Sendable, Hashable {
        public var instance: String
        public var attributes: [String: String]

        public init(instance: String, attributes: [String: String]) {
            self.instance = instance
            self.attributes = attributes
        }
    }
}
