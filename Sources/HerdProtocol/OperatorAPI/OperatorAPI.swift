/// The operator API's bodies (herdctl ↔ controller, operator certificates only). Plain JSON with
/// `snake_case` keys through `JSONEncoder`/`JSONDecoder` (`OperatorAPI.encoder`/`decoder`); unlike the
/// agent protocol nothing here is signed, so nothing depends on exact bytes. Controller/README.md
/// documents the endpoints.
public enum OperatorAPI {
    /// Keys are spelled out in each type's `CodingKeys` (no key strategy: converting every key of a
    /// 10 000-row fleet table cost more than the rest of the encoding).
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder { JSONDecoder() }

    /// `GET /v1/fleet`: one row per instance, worst first.
    public struct Fleet: Codable, Sendable, Hashable {
        public var serverTime: Double
        public var instances: [InstanceRow]
        enum CodingKeys: String, CodingKey {
            case serverTime = "server_time"
            case instances
        }

        public init(serverTime: Double, instances: [InstanceRow]) {
            self.serverTime = serverTime
            self.instances = instances
        }
    }

    public struct InstanceRow: Codable, Sendable, Hashable {
        /// `ok warning critical unknown silent waiting`
        public var instance: String
        public var state: String
        public var failing: [String]
        public var warning: [String]
        public var lastReportAt: Double?
        public var agentId: String?
        public var agentVersion: String?
        enum CodingKeys: String, CodingKey {
            case instance
            case state
            case failing
            case warning
            case lastReportAt = "last_report_at"
            case agentId = "agent_id"
            case agentVersion = "agent_version"
        }

        public init(
            instance: String, state: String, failing: [String], warning: [String], lastReportAt: Double?,
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
    }

    /// `GET /v1/instances/DOMAIN`: every check's current state and its last 24 h by hour.
    public struct InstanceDetail: Codable, Sendable, Hashable {
        public var instance: String
        public var serverTime: Double
        public var checks: [CheckRow]
        enum CodingKeys: String, CodingKey {
            case instance
            case serverTime = "server_time"
            case checks
        }

        public init(instance: String, serverTime: Double, checks: [CheckRow]) {
            self.instance = instance
            self.serverTime = serverTime
            self.checks = checks
        }
    }

    public struct CheckRow: Codable, Sendable, Hashable {
        public var checkId: String
        public var status: String
        public var since: Double
        public var summary: String
        public var lastAt: Double
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
            checkId: String, status: String, since: Double, summary: String, lastAt: Double, recent: String,
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
        public var agentVersion: String
        public var signingKeyId: String
        public var certificateFingerprint: String?
        public var requestedAt: Double
        public var lastReportAt: Double?
        public var lastSequence: UInt64?
        enum CodingKeys: String, CodingKey {
            case id
            case instance
            case state
            case hostname
            case agentVersion = "agent_version"
            case signingKeyId = "signing_key_id"
            case certificateFingerprint = "certificate_fingerprint"
            case requestedAt = "requested_at"
            case lastReportAt = "last_report_at"
            case lastSequence = "last_sequence"
        }

        public init(
            id: String, instance: String, state: String, hostname: String, agentVersion: String, signingKeyId: String,
            certificateFingerprint: String?, requestedAt: Double, lastReportAt: Double?, lastSequence: UInt64?
        ) {
            self.id = id
            self.instance = instance
            self.state = state
            self.hostname = hostname
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
        public var expiresAt: Double
        public var autoAccept: Bool
        public var caFingerprint: String
        enum CodingKeys: String, CodingKey {
            case token
            case instance
            case expiresAt = "expires_at"
            case autoAccept = "auto_accept"
            case caFingerprint = "ca_fingerprint"
        }

        public init(token: String, instance: String, expiresAt: Double, autoAccept: Bool, caFingerprint: String) {
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
        public var createdAt: Double
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
            name: String, signingKeyId: String, certificateFingerprint: String, createdAt: Double, revoked: Bool,
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
