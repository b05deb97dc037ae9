import Crypto
import Foundation
import HerdProtocol

/// Remediations: proposals signed by their requester, approvals signed by other operators, the global
/// freeze, dispatch to the agent, and the agent's signed result. Every step is one transaction that also
/// appends to the audit chain. The controller holds no operator key: it checks signatures so that
/// nonsense is refused early, but the agent checks them again against its own trust file.
extension Store {
    static let openStates = "'proposed', 'approved'"

    // MARK: Proposal

    public func propose(
        _ request: OperatorAPI.ProposalRequest, by requester: OperatorRecord, policy: RemediationPolicy,
        now: Double = now()
    ) async throws -> OperatorAPI.RemediationDetail {
        let command = try Self.openProposal(request.command, by: requester, policy: policy, now: now)
        let preview: Command? = try request.preview.map { envelope throws(WireError) in
            let candidate = try Self.openProposal(envelope, by: requester, policy: policy, now: now)
            guard candidate.agentID == command.agentID, candidate.action == command.action.dryRunVariant,
                candidate.id != command.id
            else {
                throw WireError(
                    .invalidField, "preview: must be the dry run of the proposed action, for the same agent")
            }
            return candidate
        }
        let detail = try await write { db in
            guard
                try SQLRow.fetchOne(
                    db, sql: "SELECT 1 FROM agents WHERE id = ? AND instance = ? AND state = 'accepted'",
                    arguments: [command.agentID, command.instance]) != nil
            else {
                throw WireError(.invalidField, "agent_id: no accepted agent \(command.agentID) for \(command.instance)")
            }
            if let incident = request.incidentId {
                guard
                    try SQLRow.fetchOne(
                        db,
                        sql: """
                            SELECT 1 FROM incidents i JOIN instances s ON s.id = i.instance_id
                            WHERE i.id = ? AND s.domain = ?
                            """, arguments: [incident, command.instance]) != nil
                else { throw WireError(.invalidField, "incident_id: no incident \(incident) on \(command.instance)") }
            }
            try Self.insert(
                command, envelope: request.command, requester: requester, policy: policy, incident: request.incidentId,
                previewOf: nil, now: now, in: db)
            if let preview, let envelope = request.preview {
                try Self.insert(
                    preview, envelope: envelope, requester: requester, policy: policy, incident: request.incidentId,
                    previewOf: command.id, now: now, in: db)
            }
            return OperatorAPI.RemediationDetail(
                remediation: try Self.remediation(command.id, in: db)!,
                preview: try preview.flatMap { try Self.remediation($0.id, in: db) })
        }
        for remediation in [detail.remediation] + (detail.preview.map { [$0] } ?? []) {
            await publishIfApproved(remediation)
        }
        return detail
    }

    /// An approved command waits for its agent: its long-poll, on whichever replica, returns and looks.
    private func publishIfApproved(_ remediation: OperatorAPI.Remediation) async {
        if remediation.state == "approved" { await publish(.commandReady(agentID: remediation.agentId)) }
    }

    /// The checks every proposal passes: a command envelope whose only signature that counts is the
    /// requester's, naming the requester's key, within the policy's validity, issued about now.
    static func openProposal(
        _ envelope: SignedEnvelope, by requester: OperatorRecord, policy: RemediationPolicy, now: Double
    ) throws(WireError) -> Command {
        try envelope.validate()
        let key: Curve25519.Signing.PublicKey
        do {
            key = try Curve25519.Signing.PublicKey(rawRepresentation: requester.signingPublicKey)
        } catch {
            throw WireError(.internalError, "operator \(requester.name) has an unreadable signing key")
        }
        try EnvelopeVerifier.verify(envelope, as: .command, signedBy: key)
        let command = try WireCoding.decode(Command.self, from: envelope.payload)
        guard command.requestedBy == requester.signingKeyID else {
            throw WireError(
                .identityMismatch, "requested_by must be your own signing key \(requester.signingKeyID.short)")
        }
        let issued = command.issuedAt.timeIntervalSince1970
        let expires = command.expiresAt.timeIntervalSince1970
        guard abs(issued - now) <= 300 else {
            throw WireError(.clockSkew, "issued_at is more than 5 minutes from the controller's clock")
        }
        guard expires > now, expires - issued <= policy.ttl else {
            throw WireError(
                .invalidField, "expires_at: must be in the future, at most \(Int(policy.ttl)) s after issued_at")
        }
        return command
    }

    static func insert(
        _ command: Command, envelope: SignedEnvelope, requester: OperatorRecord, policy: RemediationPolicy,
        incident: Int64?, previewOf: String?, now: Double, in db: any SQLDatabase
    ) throws {
        guard try SQLRow.fetchOne(db, sql: "SELECT 1 FROM remediations WHERE id = ?", arguments: [command.id]) == nil
        else { throw WireError(.conflict, "a command with id \(command.id) exists already") }
        let signature = envelope.signatures.first { $0.keyID == requester.signingKeyID }!
        let required = policy.required(command.action.risk)
        try db.execute(
            sql: """
                INSERT INTO remediations (id, agent_id, instance, action, parameters, risk, reason, requested_by,
                    requested_key, payload, requester_signature, state, required_approvals, created_at, expires_at,
                    incident_id, preview_of)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                command.id, command.agentID, command.instance, command.action.name,
                command.action.parameterList.joined(separator: " "), command.action.risk.rawValue, command.reason,
                requester.name, requester.signingKeyID.rawValue, Data(envelope.payload), Data(signature.signature),
                required == 0 ? "approved" : "proposed", required, now, command.expiresAt.timeIntervalSince1970,
                incident, previewOf,
            ])
        try AuditChain.append(
            db, at: now, actor: requester.name, action: "remediation.propose", subject: "remediation:\(command.id)",
            detail:
                "\(command.action.summary) on \(command.instance) (agent \(command.agentID), \(command.action.risk.rawValue), "
                + "\(required) approval(s) required)\(previewOf.map { ", preview of \($0)" } ?? ""): \(command.reason)")
        if let incident {
            try IncidentBook(engine: PatternEngine(), db: db).event(
                incident, now, previewOf == nil ? "remediation proposed" : "remediation preview",
                "\(command.action.summary) (\(command.id))", actor: requester.name)
        }
    }

    // MARK: Approval, denial, freeze

    public func approve(_ id: String, _ approval: Approval, by approver: OperatorRecord, now: Double = now())
        async throws -> OperatorAPI.Remediation
    {
        try approval.validate()
        guard approval.commandID == id else { throw WireError(.invalidField, "command_id: must be \(id)") }
        guard approval.signature.keyID == approver.signingKeyID else {
            throw WireError(
                .identityMismatch, "the signature must be by your own signing key \(approver.signingKeyID.short)")
        }
        let key: Curve25519.Signing.PublicKey
        do {
            key = try Curve25519.Signing.PublicKey(rawRepresentation: approver.signingPublicKey)
        } catch {
            throw WireError(.internalError, "operator \(approver.name) has an unreadable signing key")
        }
        try await write { db in try Self.expireStale(now: now, in: db) }
        let remediation = try await write { db in
            let row = try Self.mutable(id, now: now, in: db)
            guard row["requested_key"] as String != approver.signingKeyID.rawValue else {
                throw WireError(.forbidden, "the requester cannot approve their own remediation")
            }
            let payload: Data = row["payload"]
            let message = SignedEnvelope.preAuthenticationEncoding(payloadType: .command, payload: Array(payload))
            guard key.isValidSignature(approval.signature.signature, for: message) else {
                throw WireError(.badSignature, "the approval's signature does not verify over this command's bytes")
            }
            guard
                try SQLRow.fetchOne(
                    db, sql: "SELECT 1 FROM remediation_approvals WHERE remediation_id = ? AND key_id = ?",
                    arguments: [id, approver.signingKeyID.rawValue]) == nil
            else { throw WireError(.conflict, "\(approver.name) has approved \(id) already") }
            try db.execute(
                sql: """
                    INSERT INTO remediation_approvals (remediation_id, key_id, operator, signature, at)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [id, approver.signingKeyID.rawValue, approver.name, Data(approval.signature.signature), now])
            let counted =
                try Int.fetchOne(
                    db,
                    sql: """
                        SELECT count(*) FROM remediation_approvals a JOIN operators o ON o.signing_key_id = a.key_id
                        WHERE a.remediation_id = ? AND o.revoked_at IS NULL
                        """, arguments: [id]) ?? 0
            let required: Int = row["required_approvals"]
            if counted >= required {
                try db.execute(sql: "UPDATE remediations SET state = 'approved' WHERE id = ?", arguments: [id])
            }
            try AuditChain.append(
                db, at: now, actor: approver.name, action: "remediation.approve", subject: "remediation:\(id)",
                detail: "signature by key \(approver.signingKeyID.short); \(counted) of \(required) approval(s)")
            return try Self.remediation(id, in: db)!
        }
        await publishIfApproved(remediation)
        return remediation
    }

    public func deny(_ id: String, reason: String, by actor: OperatorRecord, now: Double = now()) async throws
        -> OperatorAPI.Remediation
    {
        try Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)
        try await write { db in try Self.expireStale(now: now, in: db) }
        return try await write { db in
            _ = try Self.mutable(id, now: now, in: db)
            try db.execute(
                sql: "UPDATE remediations SET state = 'denied', finished_at = ?, detail = ? WHERE id = ?",
                arguments: [now, "denied by \(actor.name): \(reason)", id])
            try db.execute(
                sql:
                    "UPDATE remediations SET state = 'denied', finished_at = ?, detail = ? WHERE preview_of = ? AND state IN (\(Self.openStates))",
                arguments: [now, "its remediation was denied", id])
            try AuditChain.append(
                db, at: now, actor: actor.name, action: "remediation.deny", subject: "remediation:\(id)", detail: reason
            )
            return try Self.remediation(id, in: db)!
        }
    }

    /// A remediation that may still be approved or denied (callers mark expired ones first, in a
    /// transaction of their own, so that the mark survives the refusal).
    static func mutable(_ id: String, now: Double, in db: any SQLDatabase) throws -> SQLRow {
        guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM remediations WHERE id = ?", arguments: [id]) else {
            throw WireError(.notFound, "no remediation \(id)")
        }
        let state: String = row["state"]
        guard state == "proposed" || state == "approved" else {
            throw WireError(.conflict, "remediation \(id) is \(state)")
        }
        return row
    }

    /// Proposals past their `expires_at` can never run (the agent would refuse them): say so. A
    /// dispatched command with no result once its action's maintenance window is over never reached
    /// the agent (or its answer was lost): `lost`, so that operators propose it again.
    static func expireStale(now: Double, in db: any SQLDatabase) throws {
        for row in try SQLRow.fetchAll(
            db, sql: "SELECT id, payload, dispatched_at FROM remediations WHERE state = 'dispatched'")
        {
            guard let command = try? WireCoding.decode(Command.self, from: Array(row["payload"] as Data)),
                let dispatched = row["dispatched_at"] as Double?,
                dispatched + Double(command.action.maintenanceWindow.components.seconds) < now
            else { continue }
            let id: String = row["id"]
            try db.execute(
                sql: "UPDATE remediations SET state = 'lost', finished_at = ?, detail = ? WHERE id = ?",
                arguments: [now, "no result from the agent within \(command.action.maintenanceWindow)", id])
            try AuditChain.append(
                db, at: now, actor: "controller", action: "remediation.lost", subject: "remediation:\(id)", detail: "")
        }
        let stale = try String.fetchAll(
            db, sql: "SELECT id FROM remediations WHERE state IN (\(openStates)) AND expires_at <= ?", arguments: [now])
        for id in stale {
            try db.execute(
                sql: "UPDATE remediations SET state = 'expired', finished_at = ?, detail = ? WHERE id = ?",
                arguments: [now, "expired before it was approved and dispatched", id])
            try AuditChain.append(
                db, at: now, actor: "controller", action: "remediation.expire", subject: "remediation:\(id)", detail: ""
            )
        }
    }

    public func setFreeze(_ frozen: Bool, reason: String, by actor: String, now: Double = now()) async throws
        -> OperatorAPI.FreezeState
    {
        try Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)
        let state = try await write { db in
            try db.execute(
                sql: "UPDATE remediation_freeze SET frozen = ?, by = ?, at = ?, reason = ? WHERE id = 1",
                arguments: [frozen, actor, now, reason])
            try AuditChain.append(
                db, at: now, actor: actor, action: frozen ? "remediation.freeze" : "remediation.thaw",
                subject: "remediation:*", detail: reason)
            return try Self.freezeState(db)
        }
        if !frozen { await publish(.thawed) }
        return state
    }

    public func freezeState() async throws -> OperatorAPI.FreezeState {
        try await read { db in try Self.freezeState(db) }
    }

    static func freezeState(_ db: any SQLDatabase) throws -> OperatorAPI.FreezeState {
        let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM remediation_freeze WHERE id = 1")
        return OperatorAPI.FreezeState(
            frozen: row?["frozen"] ?? false, by: row?["by"], at: row?["at"], reason: row?["reason"])
    }

    // MARK: Reading

    public func remediations(openOnly: Bool, now: Double = now()) async throws -> OperatorAPI.Remediations {
        try await write { db in
            try Self.expireStale(now: now, in: db)
            let ids = try String.fetchAll(
                db,
                sql: openOnly
                    ? "SELECT id FROM remediations WHERE state IN (\(Self.openStates), 'dispatched') ORDER BY created_at DESC LIMIT 1000"
                    : "SELECT id FROM remediations ORDER BY created_at DESC LIMIT 1000")
            return OperatorAPI.Remediations(
                remediations: try ids.compactMap { try Self.remediation($0, in: db) }, freeze: try Self.freezeState(db))
        }
    }

    public func remediation(id: String) async throws -> OperatorAPI.RemediationDetail? {
        try await read { db in
            guard let remediation = try Self.remediation(id, in: db) else { return nil }
            let preview = try String.fetchOne(
                db, sql: "SELECT id FROM remediations WHERE preview_of = ? LIMIT 1", arguments: [id])
            return OperatorAPI.RemediationDetail(
                remediation: remediation, preview: try preview.flatMap { try Self.remediation($0, in: db) })
        }
    }

    static func remediation(_ id: String, in db: any SQLDatabase) throws -> OperatorAPI.Remediation? {
        guard let row = try SQLRow.fetchOne(db, sql: "SELECT * FROM remediations WHERE id = ?", arguments: [id]) else {
            return nil
        }
        let approvals = try SQLRow.fetchAll(
            db, sql: "SELECT operator, key_id, at FROM remediation_approvals WHERE remediation_id = ? ORDER BY at",
            arguments: [id]
        ).map { OperatorAPI.ApprovalRow(operator: $0["operator"], keyId: $0["key_id"], at: $0["at"]) }
        let payload = Array(row["payload"] as Data)
        let command = try? WireCoding.decode(Command.self, from: payload)
        let verification =
            (try? JSONCodable.decode(
                [OperatorAPI.VerificationRow].self, from: Data((row["verification"] as String).utf8))) ?? []
        return OperatorAPI.Remediation(
            id: id, instance: row["instance"], agentId: row["agent_id"], action: row["action"],
            parameters: (row["parameters"] as String).split(separator: " ").map(String.init),
            hostCommand: command?.action.hostCommand ?? "", risk: row["risk"], reason: row["reason"],
            requestedBy: row["requested_by"], state: row["state"], requiredApprovals: row["required_approvals"],
            approvals: approvals, createdAt: row["created_at"], expiresAt: row["expires_at"],
            dispatchedAt: row["dispatched_at"], finishedAt: row["finished_at"], detail: row["detail"],
            refusal: row["refusal"], exitCode: (row["exit_code"] as Int64?).map { Int32(clamping: $0) },
            outputTail: row["output_tail"], verification: verification, incidentId: row["incident_id"],
            previewOf: row["preview_of"], payload: Base64.encode(payload))
    }

    // MARK: Audit

    public func auditEntries(after: Int64, limit: Int) async throws -> [OperatorAPI.AuditEntry] {
        try await read { db in try AuditChain.entries(db, after: after, limit: limit) }
    }

    public func verifyAudit() async throws -> OperatorAPI.AuditVerification {
        try await read { db in try AuditChain.verify(db) }
    }
}
