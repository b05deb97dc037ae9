/// The operator API's bodies (herdctl ↔ controller, operator certificates only). JSON with `snake_case`
/// keys, declared with `Codable` (keys spelled out in each type's `CodingKeys`) and read and written by
/// the protocol's own reader and writer through `JSONCodable`, as signed messages are.
/// Instants are RFC 3339 strings (`WireTime`), as in the agent protocol; the one number is an audit
/// row's `at`, whose exact IEEE 754 bits its hash covers.
/// Unlike the agent protocol nothing here is signed, so nothing depends on exact bytes.
/// Controller/README.md documents the endpoints.
public enum OperatorAPI {
    /// `GET /v1/fleet`: the counts by state, and one row per instance (those in `state` when asked),
    /// worst first. The one answer that grows with the fleet (1.7 MiB for 10 000 instances, all rows):
    /// BENCHMARKS.md measures `herdctl status` on such a fleet.
    public struct Fleet: WireMessage, Hashable {
        /// Instances in one answer; a fleet larger than this needs paging first.
        public static let maxInstances = 100_000
        public static let maxBytes = 64 << 20

        public var serverTime: Date
        /// Instances by state, of the whole fleet the answer was asked about (its `attribute`), before
        /// `state` kept some of them: what a summary and an exit status are made of.
        public var counts: [String: Int]
        public var instances: [InstanceRow]

        public init(serverTime: Date, counts: [String: Int], instances: [InstanceRow]) {
            self.serverTime = serverTime
            self.counts = counts
            self.instances = instances
        }

        enum CodingKeys: String, CodingKey {
            case serverTime = "server_time", counts, instances
        }

        public func validate() throws(WireError) {
            try Rule.count(instances.count, "instances", max: Self.maxInstances)
            for row in instances { try row.validate() }
            for (state, count) in counts {
                guard InstanceRow.states.contains(state) else {
                    throw WireError(.invalidField, "counts: \(state) is not a fleet state")
                }
                guard count >= 0 else {
                    throw WireError(.invalidField, "counts.\(state): negative")
                }
            }
        }
    }

    public struct InstanceRow: WireMessage, Hashable {
        public static let states: Set<String> = ["ok", "warning", "critical", "unknown", "silent", "waiting"]

        public var instance: String
        /// `ok warning critical unknown silent waiting`
        public var state: String
        public var failing: [String]
        public var warning: [String]
        public var lastReportAt: Date?
        public var agentId: String?
        public var agentVersion: String?

        public init(
            instance: String, state: String, failing: [String], warning: [String], lastReportAt: Date?,
            agentId: String?, agentVersion: String?
        ) {
            self.instance = instance
            self.state = state
            self.failing = failing
            self.warning = warning
            self.lastReportAt = lastReportAt
            self.agentId = agentId
            self.agentVersion = agentVersion
        }

        enum CodingKeys: String, CodingKey {
            case instance, state, failing, warning, lastReportAt = "last_report_at", agentId = "agent_id"
            case agentVersion = "agent_version"
        }

        public func validate() throws(WireError) {
            guard Self.states.contains(state) else {
                throw WireError(.invalidField, "instances.state: \(state) is not a fleet state")
            }
            guard Rule.isInstanceName(instance) else {
                throw WireError(.invalidField, "instances.instance: not an instance name")
            }
            try Rule.count(failing.count, "instances.failing", max: Limits.maxCheckResults)
            try Rule.count(warning.count, "instances.warning", max: Limits.maxCheckResults)
        }
    }

    /// `GET /v1/instances/DOMAIN`: every check's current state and its last 24 h by hour.
    public struct InstanceDetail: Codable, Sendable, Hashable {
        public var instance: String
        public var serverTime: Date
        public var checks: [CheckRow]
        /// Reports its agent lost before delivering them — dropped by its outbox's bounds, set aside as
        /// corrupt, or never stored (a full disk) — and when the last loss was reported.
        public var reportsLost: Int
        public var reportsLostAt: Date?
        enum CodingKeys: String, CodingKey {
            case instance
            case serverTime = "server_time"
            case checks
            case reportsLost = "reports_lost"
            case reportsLostAt = "reports_lost_at"
        }

        public init(
            instance: String, serverTime: Date, checks: [CheckRow], reportsLost: Int = 0, reportsLostAt: Date? = nil
        ) {
            self.instance = instance
            self.serverTime = serverTime
            self.checks = checks
            self.reportsLost = reportsLost
            self.reportsLostAt = reportsLostAt
        }
    }

    public struct CheckRow: Codable, Sendable, Hashable {
        public var checkId: String
        public var status: String
        public var since: Date
        public var summary: String
        public var lastAt: Date
        /// The last raw results, oldest first, one letter each: `o w c u`.
        public var recent: String
        /// The worst status of each of the last 24 hours, oldest first (`-` for no result).
        public var hours: String
        enum CodingKeys: String, CodingKey {
            case checkId = "check_id"
            case status
            case since
            case summary
            case lastAt = "last_at"
            case recent
            case hours
        }

        public init(
            checkId: String, status: String, since: Date, summary: String, lastAt: Date, recent: String,
            hours: String
        ) {
            self.checkId = checkId
            self.status = status
            self.since = since
            self.summary = summary
            self.lastAt = lastAt
            self.recent = recent
            self.hours = hours
        }
    }

    /// `GET /v1/agents[?state=pending]`
    public struct Agents: Codable, Sendable, Hashable {
        public var agents: [AgentRow]
        enum CodingKeys: String, CodingKey {
            case agents
        }

        public init(agents: [AgentRow]) { self.agents = agents }
    }

    public struct AgentRow: Codable, Sendable, Hashable {
        public var id: String
        public var instance: String
        public var state: String
        public var hostname: String
        /// The part of the instance its host runs (`AgentRole`): `all`, or a split instance's part.
        public var role: String
        public var agentVersion: String
        public var signingKeyId: String
        public var certificateFingerprint: String?
        public var requestedAt: Date
        public var lastReportAt: Date?
        public var lastSequence: UInt64?
        enum CodingKeys: String, CodingKey {
            case id
            case instance
            case state
            case hostname
            case role
            case agentVersion = "agent_version"
            case signingKeyId = "signing_key_id"
            case certificateFingerprint = "certificate_fingerprint"
            case requestedAt = "requested_at"
            case lastReportAt = "last_report_at"
            case lastSequence = "last_sequence"
        }

        public init(
            id: String, instance: String, state: String, hostname: String, role: String = "all", agentVersion: String,
            signingKeyId: String, certificateFingerprint: String?, requestedAt: Date, lastReportAt: Date?,
            lastSequence: UInt64?
        ) {
            self.id = id
            self.instance = instance
            self.state = state
            self.hostname = hostname
            self.role = role
            self.agentVersion = agentVersion
            self.signingKeyId = signingKeyId
            self.certificateFingerprint = certificateFingerprint
            self.requestedAt = requestedAt
            self.lastReportAt = lastReportAt
            self.lastSequence = lastSequence
        }
    }

    /// `POST /v1/tokens`
    public struct TokenRequest: Codable, Sendable, Hashable {
        public var instance: String
        public var ttlSeconds: Int
        /// nil: the controller's `enrollment.auto_accept`.
        public var autoAccept: Bool?
        enum CodingKeys: String, CodingKey {
            case instance
            case ttlSeconds = "ttl_seconds"
            case autoAccept = "auto_accept"
        }

        public init(instance: String, ttlSeconds: Int, autoAccept: Bool?) {
            self.instance = instance
            self.ttlSeconds = ttlSeconds
            self.autoAccept = autoAccept
        }
    }

    public struct Token: Codable, Sendable, Hashable {
        public var token: String
        public var instance: String
        public var expiresAt: Date
        public var autoAccept: Bool
        public var caFingerprint: String
        enum CodingKeys: String, CodingKey {
            case token
            case instance
            case expiresAt = "expires_at"
            case autoAccept = "auto_accept"
            case caFingerprint = "ca_fingerprint"
        }

        public init(token: String, instance: String, expiresAt: Date, autoAccept: Bool, caFingerprint: String) {
            self.token = token
            self.instance = instance
            self.expiresAt = expiresAt
            self.autoAccept = autoAccept
            self.caFingerprint = caFingerprint
        }
    }
}

extension OperatorAPI {
    /// `POST /v1/operators`: enrol another operator from the request `herdctl operators request` made on
    /// their machine (their private keys never leave it).
    public struct OperatorRequest: Codable, Sendable, Hashable {
        public var name: String
        /// Ed25519, SubjectPublicKeyInfo PEM.
        public var signingPublicKey: String
        /// PKCS #10 for their P-256 TLS key, PEM.
        public var csrPem: String
        enum CodingKeys: String, CodingKey {
            case name
            case signingPublicKey = "signing_public_key"
            case csrPem = "csr_pem"
        }

        public init(name: String, signingPublicKey: String, csrPem: String) {
            self.name = name
            self.signingPublicKey = signingPublicKey
            self.csrPem = csrPem
        }
    }

    public struct OperatorRow: Codable, Sendable, Hashable {
        public var name: String
        public var signingKeyId: String
        public var certificateFingerprint: String
        public var createdAt: Date
        public var revoked: Bool
        /// Present in the answer to `POST /v1/operators`: the certificate to hand back.
        public var certificatePem: String?
        enum CodingKeys: String, CodingKey {
            case name
            case signingKeyId = "signing_key_id"
            case certificateFingerprint = "certificate_fingerprint"
            case createdAt = "created_at"
            case revoked
            case certificatePem = "certificate_pem"
        }

        public init(
            name: String, signingKeyId: String, certificateFingerprint: String, createdAt: Date, revoked: Bool,
            certificatePem: String?
        ) {
            self.name = name
            self.signingKeyId = signingKeyId
            self.certificateFingerprint = certificateFingerprint
            self.createdAt = createdAt
            self.revoked = revoked
            self.certificatePem = certificatePem
        }
    }

    public struct Operators: Codable, Sendable, Hashable {
        public var operators: [OperatorRow]
        enum CodingKeys: String, CodingKey {
            case operators
        }

        public init(operators: [OperatorRow]) { self.operators = operators }
    }
}
