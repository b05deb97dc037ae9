import Foundation
import HerdProtocol

/// Remediations on their way to the agent and back: dispatch (once, with the signatures, the
/// instance put in maintenance) and the agent's signed result (which may resolve incidents).
extension Store {
    /// Whether an approved command waits for the agent (a read, for the long-poll's cheap path).
    public func hasDispatchable(agentID: String, now: Double = now()) async throws -> Bool {
        try await read { db in
            try SQLRow.fetchOne(
                db,
                sql: """
                    SELECT 1 FROM remediations, remediation_freeze f
                    WHERE agent_id = ? AND state = 'approved' AND expires_at > ? AND f.id = 1 AND f.frozen = 0 LIMIT 1
                    """, arguments: [agentID, now]) != nil
        }
    }

    /// Hands the agent its approved commands (each once, also when replicas on one PostgreSQL answer
    /// two of its polls at once: the rows are claimed `FOR UPDATE SKIP LOCKED`, and a row another
    /// transaction dispatched is no longer `approved` when this one reads it), unless remediation is
    /// frozen: the envelope
    /// with the requester's and the approvers' signatures, the command marked `dispatched`, and — for
    /// anything but a dry run — the instance in maintenance for the action's window.
    public func dispatch(agentID: String, now: Double = now()) async throws -> [SignedEnvelope] {
        guard try await hasDispatchable(agentID: agentID, now: now) else { return [] }
        return try await write { db in
            guard try !Self.freezeState(db).frozen else { return [] }
            try Self.expireStale(now: now, in: db)
            let rows = try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT * FROM remediations WHERE agent_id = ? AND state = 'approved' AND expires_at > ?
                    ORDER BY created_at LIMIT ? \(db.dialect.claimRows)
                    """, arguments: [agentID, now, Limits.maxCommandsPerResponse])
            var envelopes: [SignedEnvelope] = []
            for row in rows {
                let id: String = row["id"]
                var signatures = [
                    EnvelopeSignature(
                        keyID: KeyID(rawValue: row["requested_key"]),
                        signature: Array(row["requester_signature"] as Data))
                ]
                for approval in try SQLRow.fetchAll(
                    db, sql: "SELECT key_id, signature FROM remediation_approvals WHERE remediation_id = ? ORDER BY at",
                    arguments: [id]
                ).prefix(Limits.maxSignaturesPerEnvelope - 1) {
                    signatures.append(
                        EnvelopeSignature(
                            keyID: KeyID(rawValue: approval["key_id"]), signature: Array(approval["signature"] as Data))
                    )
                }
                envelopes.append(
                    SignedEnvelope(
                        payload: row["payload"] as [UInt8], payloadType: .command, signatures: signatures))
                var silence: Int64?
                if (row["risk"] as String) != CommandAction.Risk.preview.rawValue,
                    let command = try? WireCoding.decode(Command.self, from: row["payload"] as [UInt8])
                {
                    silence = try Int64.fetchOne(
                        db,
                        sql: """
                            INSERT INTO silences (scope, value, starts_at, ends_at, created_by, reason, created_at)
                            VALUES ('instance', ?, ?, ?, ?, ?, ?) RETURNING id
                            """,
                        arguments: [
                            row["instance"] as String, now,
                            now + Double(command.action.maintenanceWindow.components.seconds),
                            "remediation:\(id)", "maintenance while \(command.action.summary) runs", now,
                        ])
                }
                try db.execute(
                    sql: "UPDATE remediations SET state = 'dispatched', dispatched_at = ?, silence_id = ? WHERE id = ?",
                    arguments: [now, silence, id])
                try AuditChain.append(
                    db, at: now, actor: "controller", action: "remediation.dispatch", subject: "remediation:\(id)",
                    detail: "to agent \(agentID) with \(signatures.count) signature(s)"
                        + (silence.map { "; instance in maintenance (silence \($0))" } ?? ""))
                if let incident = row["incident_id"] as Int64?, row["preview_of"] as String? == nil {
                    try IncidentBook(engine: PatternEngine(), db: db).event(
                        incident, now, "remediation dispatched", "\(row["action"] as String) (\(id))")
                }
            }
            return envelopes
        }
    }

    /// Stores an agent's signed result (sharing the agent's sequence with its reports; `false` for a
    /// retry already stored). A success whose verification shows an open incident's check OK resolves
    /// that incident as `remediation`, and clears the check's patterns so that a relapse opens a new one.
    public func record(
        _ verified: VerifiedAgentMessage<CommandResult>, receivedAt: Double, engine: PatternEngine
    ) async throws -> Bool {
        let result = verified.message
        let stored = try await write { db -> Bool in
            let advanced = try db.execute(
                sql: """
                    UPDATE agents SET last_sequence = ?
                    WHERE id = ? AND state = 'accepted' AND (last_sequence IS NULL OR last_sequence < ?)
                    """, arguments: [Int64(result.sequence), result.agentID, Int64(result.sequence)])
            guard advanced == 1 else { return false }
            let subject = "remediation:\(result.commandID)"
            guard
                let row = try SQLRow.fetchOne(
                    db, sql: "SELECT * FROM remediations WHERE id = ? AND agent_id = ?",
                    arguments: [result.commandID, result.agentID])
            else {
                // A command this controller never issued (forged, or from another controller): the refusal
                // is evidence worth keeping.
                try AuditChain.append(
                    db, at: receivedAt, actor: "agent:\(result.agentID)", action: "remediation.result-unknown",
                    subject: subject,
                    detail: "\(result.outcome.rawValue)\(result.refusal.map { " (\($0))" } ?? ""): \(result.detail)")
                return true
            }
            guard row["state"] as String == "dispatched" else {
                // A second answer for a command already settled (e.g. an agent refusing a replay of it):
                // kept in the audit, never overwriting the first.
                try AuditChain.append(
                    db, at: receivedAt, actor: "agent:\(result.agentID)", action: "remediation.result-extra",
                    subject: subject,
                    detail: "\(result.outcome.rawValue)\(result.refusal.map { " (\($0))" } ?? ""): \(result.detail)")
                return true
            }
            let verification = result.verification.map {
                OperatorAPI.VerificationRow(checkId: $0.checkID, status: $0.status.rawValue, summary: $0.summary)
            }
            try db.execute(
                sql: """
                    UPDATE remediations SET state = ?, finished_at = ?, detail = ?, refusal = ?, exit_code = ?,
                        output_tail = ?, verification = ?, result = ?
                    WHERE id = ?
                    """,
                arguments: [
                    result.outcome.rawValue, receivedAt, result.detail, result.refusal?.rawValue,
                    result.exitCode.map { Int64($0) }, result.outputTail,
                    String(decoding: try JSONCodable.encode(verification), as: UTF8.self),
                    Data(verified.payload), result.commandID,
                ])
            if let silence = row["silence_id"] as Int64? {
                try db.execute(
                    sql: "UPDATE silences SET expired_at = ?, expired_by = ? WHERE id = ? AND expired_at IS NULL",
                    arguments: [receivedAt, subject, silence])
            }
            try AuditChain.append(
                db, at: receivedAt, actor: "agent:\(result.agentID)", action: "remediation.result", subject: subject,
                detail: "\(result.outcome.rawValue)\(result.refusal.map { " (\($0))" } ?? "")"
                    + "\(result.exitCode.map { ", exit \($0)" } ?? ""): \(result.detail)")
            guard row["preview_of"] as String? == nil else { return true }
            try Self.settleIncidents(result, row: row, at: receivedAt, engine: engine, in: db)
            return true
        }
        if stored { agentCache.withLock { $0.advance(agentID: result.agentID, to: result.sequence) } }
        return stored
    }

    static func settleIncidents(
        _ result: CommandResult, row: SQLRow, at: Double, engine: PatternEngine, in db: any SQLDatabase
    ) throws {
        let book = IncidentBook(engine: engine, db: db)
        let id: String = row["id"]
        let action: String = row["action"]
        let linked: Int64? = row["incident_id"]
        if let linked {
            try book.event(linked, at, "remediation \(result.outcome.rawValue)", "\(action) (\(id)): \(result.detail)")
        }
        guard result.outcome == .succeeded,
            let instanceID = try Int64.fetchOne(
                db, sql: "SELECT id FROM instances WHERE domain = ?", arguments: [result.instance])
        else { return }
        // A split instance's host re-ran its own checks: `sidekiq` is its `sidekiq@sidekiq-1`.
        let label = try String.fetchOne(
            db, sql: "SELECT host_label FROM agents WHERE id = ?", arguments: [result.agentID])
        let host = label.flatMap { $0.isEmpty ? nil : $0 }
        let healthy = result.verification.filter { $0.status == .ok }.map {
            CheckName.qualified($0.checkID, host: host)
        }
        guard !healthy.isEmpty else { return }
        let marks = Array(repeating: "?", count: healthy.count).joined(separator: ", ")
        let open = try SQLRow.fetchAll(
            db,
            sql: """
                SELECT id, check_id FROM incidents
                WHERE kind = 'instance' AND state = 'open' AND instance_id = ? AND check_id IN (\(marks))
                """, arguments: SQLArguments([instanceID] + healthy.map { $0 as any SQLBindable }))
        for incident in open {
            let checkID: String = incident["check_id"]
            try book.resolve(
                incident["id"], at: at, detail: "\(action) (\(id)) succeeded; \(checkID) OK when the agent re-ran it",
                resolution: "remediation")
            try db.execute(
                sql: "UPDATE check_state SET patterns = '' WHERE instance_id = ? AND check_id = ?",
                arguments: [instanceID, checkID])
        }
    }

}
