import Crypto
import Foundation
import HerdProtocol

public enum AgentState: String, Sendable, Hashable, CaseIterable {
    case pending, accepted, revoked
}

public struct AgentRecord: Sendable, Hashable {
    public var id: String
    public var instance: String
    public var state: AgentState
    public var signingPublicKey: [UInt8]
    public var signingKeyID: KeyID
    public var csrPEM: String
    public var certificatePEM: String?
    public var certificateFingerprint: String?
    public var agentVersion: String
    public var hostname: String
    /// The part of the instance its host runs (`all` unless it enrolled with a role).
    public var role: AgentRole
    /// Its checks' label in a split instance (`disk@db-1`); empty for `all`.
    public var hostLabel: String
    public var requestedAt: Double
    public var acceptedAt: Double?
    public var revokedAt: Double?
    public var lastSequence: UInt64?
    public var lastReportAt: Double?
    public var intervalSeconds: Int?

    init(row: SQLRow) {
        id = row["id"]
        instance = row["instance"]
        state = AgentState(rawValue: row["state"]) ?? .revoked
        signingPublicKey = [UInt8](row["signing_public_key"] as Data)
        signingKeyID = KeyID(rawValue: row["signing_key_id"])
        csrPEM = row["csr_pem"]
        certificatePEM = row["certificate_pem"]
        certificateFingerprint = row["certificate_fingerprint"]
        agentVersion = row["agent_version"]
        hostname = row["hostname"]
        role = AgentRole(rawValue: row["role"]) ?? .all
        hostLabel = row["host_label"]
        requestedAt = row["requested_at"]
        acceptedAt = row["accepted_at"]
        revokedAt = row["revoked_at"]
        lastSequence = (row["last_sequence"] as Int64?).map { UInt64($0) }
        lastReportAt = row["last_report_at"]
        intervalSeconds = row["interval_seconds"]
    }

    public var identity: AgentIdentity? {
        (try? Curve25519.Signing.PublicKey(rawRepresentation: signingPublicKey)).map {
            AgentIdentity(id: id, signingKey: $0)
        }
    }
}

public struct OperatorRecord: Sendable, Hashable {
    public var id: Int64
    public var name: String
    public var signingKeyID: KeyID
    public var signingPublicKey: [UInt8]
    public var certificateFingerprint: String
    public var createdAt: Double
    public var revokedAt: Double?

    init(row: SQLRow) {
        id = row["id"]
        name = row["name"]
        signingKeyID = KeyID(rawValue: row["signing_key_id"])
        signingPublicKey = [UInt8](row["signing_public_key"] as Data)
        certificateFingerprint = row["certificate_fingerprint"]
        createdAt = row["created_at"]
        revokedAt = row["revoked_at"]
    }
}

/// A certificate the CA issued: its PEM and the fingerprint the controller will know its holder by.
public struct IssuedCertificate: Sendable {
    public var pem: String
    public var fingerprint: String
    public init(pem: String, fingerprint: String) {
        self.pem = pem
        self.fingerprint = fingerprint
    }
}

extension Store {
    // MARK: Operators

    public func addOperator(
        name: String, signingKey: Curve25519.Signing.PublicKey, certificate: IssuedCertificate, now: Double = now()
    ) async throws -> OperatorRecord {
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM operators WHERE name = ?", arguments: [name]) != nil {
                throw WireError(.invalidField, "an operator named \(name) exists already")
            }
            let id = try Int64.fetchOne(
                db,
                sql: """
                    INSERT INTO operators (name, signing_key_id, signing_public_key, certificate_fingerprint,
                        certificate_pem, created_at)
                    VALUES (?, ?, ?, ?, ?, ?) RETURNING id
                    """,
                arguments: [
                    name, KeyID(publicKey: signingKey).rawValue, Data(signingKey.rawRepresentation),
                    certificate.fingerprint, certificate.pem, now,
                ])
            return OperatorRecord(
                row: try SQLRow.fetchOne(
                    db, sql: "SELECT * FROM operators WHERE id = ?", arguments: [id])!)
        }
    }

    public func operatorRecord(fingerprint: String) async throws -> OperatorRecord? {
        try await read { db in
            try SQLRow.fetchOne(
                db, sql: "SELECT * FROM operators WHERE certificate_fingerprint = ?", arguments: [fingerprint]
            )
            .map(OperatorRecord.init)
        }
    }

    public func operators() async throws -> [OperatorRecord] {
        try await read { db in
            try SQLRow.fetchAll(db, sql: "SELECT * FROM operators ORDER BY name").map(OperatorRecord.init)
        }
    }

    // MARK: Enrollment tokens

    /// A one-time token for `instance`, valid `ttl` seconds. Only its SHA-256 is stored: the token
    /// itself is shown once, to the operator who asked for it.
    public func createToken(instance: String, ttl: Double, autoAccept: Bool, createdBy: Int64?, now: Double = now())
        async throws -> String
    {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let token = "herd1-" + Hex.lowercase(bytes)
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO enrollment_tokens (token_hash, instance, created_by, created_at, expires_at, auto_accept)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [Self.tokenHash(token), instance, createdBy, now, now + ttl, autoAccept])
        }
        return token
    }

    static func tokenHash(_ token: String) -> String {
        Hex.lowercase(SHA256.hash(data: Array(token.utf8)))
    }

    // MARK: Agents

    /// Records an enrollment (the caller has checked the request's signature by the key it carries).
    /// Sending the same request again, signed by the same key, returns the current state; a token
    /// already used by another key, expired, unknown or for another instance is `invalid_token`;
    /// another live agent for the instance is `duplicate_instance`. With an auto-accept token the
    /// certificate is issued at once (`issue`), in the same transaction.
    public func enroll(
        _ request: EnrollRequest, signingKey: Curve25519.Signing.PublicKey, now: Double = now(),
        issue: @escaping @Sendable (_ agentID: String) throws -> IssuedCertificate
    ) async throws -> AgentRecord {
        let keyID = KeyID(publicKey: signingKey)
        return try await write { db in
            guard
                let token = try SQLRow.fetchOne(
                    db, sql: "SELECT * FROM enrollment_tokens WHERE token_hash = ?",
                    arguments: [Self.tokenHash(request.token)])
            else { throw WireError(.invalidToken, "unknown enrollment token") }
            if let used: String = token["agent_id"] {
                let agent = try SQLRow.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [used])
                    .map(AgentRecord.init)
                guard let agent, agent.signingKeyID == keyID, agent.state != .revoked else {
                    throw WireError(.invalidToken, "this enrollment token has been used")
                }
                return agent  // the same agent asking again: its current state
            }
            guard (token["expires_at"] as Double) > now else {
                throw WireError(.invalidToken, "this enrollment token has expired")
            }
            guard (token["instance"] as String) == request.instance else {
                throw WireError(.invalidToken, "this enrollment token is for another instance")
            }
            let role = request.role ?? .all
            let label = role == .all ? "" : AgentRole.hostLabel(request.host.hostname)
            // One agent for the whole instance, or one per host of a split instance (each with a role,
            // each host once: its label names its checks).
            for live in try SQLRow.fetchAll(
                db, sql: "SELECT id, host_label FROM agents WHERE instance = ? AND state != 'revoked'",
                arguments: [request.instance])
            {
                let (id, liveLabel) = (live[0] as String, live[1] as String)
                if role == .all || liveLabel.isEmpty {
                    throw WireError(
                        .duplicateInstance,
                        "agent \(id) is enrolled for \(request.instance)"
                            + (role == .all ? "" : " as the whole instance (role all)") + "; revoke it first")
                }
                if liveLabel == label {
                    throw WireError(
                        .duplicateInstance,
                        "agent \(id) is enrolled for \(request.instance) on host \(label); revoke it first")
                }
            }
            let agentID = String(keyID.rawValue.prefix(20))
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM agents WHERE id = ?", arguments: [agentID]) != nil {
                throw WireError(.invalidToken, "this signing key was enrolled before; make a new key")
            }
            try db.execute(
                sql: """
                    INSERT INTO agents (id, instance, state, signing_public_key, signing_key_id, csr_pem, agent_version,
                        hostname, role, host_label, requested_at)
                    VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    agentID, request.instance, Data(signingKey.rawRepresentation), keyID.rawValue, request.csrPEM,
                    request.agentVersion, request.host.hostname, role.rawValue, label, now,
                ])
            try db.execute(
                sql: "UPDATE enrollment_tokens SET used_at = ?, agent_id = ? WHERE token_hash = ?",
                arguments: [now, agentID, Self.tokenHash(request.token)])
            if token["auto_accept"] as Bool {
                try Self.accept(agentID, now: now, issue: issue, in: db)
            }
            return AgentRecord(
                row: try SQLRow.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [agentID])!)
        }
    }

    /// Accepts a pending agent: issues its certificate (`issue`) and records the fingerprint.
    public func accept(
        agentID: String, now: Double = now(), issue: @escaping @Sendable (_ agentID: String) throws -> IssuedCertificate
    ) async throws -> AgentRecord {
        try await write { db in
            guard
                let state = try String.fetchOne(db, sql: "SELECT state FROM agents WHERE id = ?", arguments: [agentID])
            else { throw WireError(.notFound, "no agent \(agentID)") }
            guard state == AgentState.pending.rawValue else {
                throw WireError(.invalidField, "agent \(agentID) is \(state), not pending")
            }
            try Self.accept(agentID, now: now, issue: issue, in: db)
            return AgentRecord(
                row: try SQLRow.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [agentID])!)
        }
    }

    private static func accept(
        _ agentID: String, now: Double, issue: (String) throws -> IssuedCertificate, in db: any SQLDatabase
    ) throws {
        let certificate = try issue(agentID)
        try db.execute(
            sql: """
                UPDATE agents SET state = 'accepted', accepted_at = ?, certificate_pem = ?, certificate_fingerprint = ?
                WHERE id = ?
                """,
            arguments: [now, certificate.pem, certificate.fingerprint, agentID])
    }

    /// Revokes an agent: every later request with its certificate is refused with `revoked`.
    public func revoke(agentID: String, now: Double = now()) async throws -> AgentRecord {
        let agent = try await write { db in
            try db.execute(
                sql: "UPDATE agents SET state = 'revoked', revoked_at = ? WHERE id = ? AND state != 'revoked'",
                arguments: [now, agentID])
            guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [agentID])
            else {
                throw WireError(.notFound, "no agent \(agentID)")
            }
            return AgentRecord(row: row)
        }
        await publish(.agentChanged(agentID: agentID))
        return agent
    }

    public func agent(id: String) async throws -> AgentRecord? {
        try await read { db in
            try SQLRow.fetchOne(db, sql: "SELECT * FROM agents WHERE id = ?", arguments: [id]).map(AgentRecord.init)
        }
    }

    /// The agent holding the certificate with this fingerprint; from memory after its first call.
    public func agent(fingerprint: String) async throws -> AgentRecord? {
        if let cached = agentCache.withLock({ $0[fingerprint] }) { return cached }
        let agent = try await read { db in
            try SQLRow.fetchOne(
                db, sql: "SELECT * FROM agents WHERE certificate_fingerprint = ?", arguments: [fingerprint]
            )
            .map(AgentRecord.init)
        }
        if let agent { agentCache.withLock { $0.insert(agent) } }
        return agent
    }

    public func agents(state: AgentState? = nil) async throws -> [AgentRecord] {
        try await read { db in
            if let state {
                return try SQLRow.fetchAll(
                    db, sql: "SELECT * FROM agents WHERE state = ? ORDER BY instance", arguments: [state.rawValue]
                ).map(AgentRecord.init)
            }
            return try SQLRow.fetchAll(db, sql: "SELECT * FROM agents ORDER BY instance").map(AgentRecord.init)
        }
    }
}
