import Crypto
import Foundation
import GRDB
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// The controller's side of remediation on a real SQLite file: proposal checks, the approval policy
/// (requester never counts, one vote per operator), deny, expiry, the freeze, dispatch once with a
/// maintenance window, results settling incidents, and the audit chain catching tampering.
@Suite struct RemediationStoreTests {
    struct Operators {
        let alice: (record: OperatorRecord, key: Curve25519.Signing.PrivateKey)
        let bob: (record: OperatorRecord, key: Curve25519.Signing.PrivateKey)
        let carol: (record: OperatorRecord, key: Curve25519.Signing.PrivateKey)

        init(_ store: Store) async throws {
            func add(_ name: String) async throws -> (OperatorRecord, Curve25519.Signing.PrivateKey) {
                let key = Curve25519.Signing.PrivateKey()
                let record = try await store.addOperator(
                    name: name, signingKey: key.publicKey,
                    certificate: IssuedCertificate(
                        pem: "", fingerprint: Hex.lowercase(SHA256.hash(data: Array(name.utf8)))))
                return (record, key)
            }
            alice = try await add("alice")
            bob = try await add("bob")
            carol = try await add("carol")
        }
    }

    /// A store with one enrolled agent, three operators, and an open `services` incident (one critical
    /// result opens it here; `resolveResults` OK results resolve it).
    struct Scene {
        let fleet: StoreTests.Fleet
        let agent: AgentRecord
        let agentKey: Curve25519.Signing.PrivateKey
        let ops: Operators
        let engine: PatternEngine
        let incident: IncidentRecord

        init(_ kind: StoreKind, resolveResults: Int = PatternSettings.Persistent().resolveResults) async throws {
            fleet = try StoreTests.Fleet(kind)
            (agent, agentKey) = try await fleet.enroll("social.example")
            ops = try await Operators(fleet.store)
            var settings = PatternSettings()
            settings.persistent.results = 1
            settings.persistent.seconds = 0
            settings.persistent.resolveResults = resolveResults
            engine = PatternEngine(settings: settings)
            _ = try await fleet.store.write(
                [fleet.report(agent, sequence: 1, statuses: ["services": .critical])], patterns: engine)
            incident = try #require(try await fleet.store.incidents(openOnly: true).first)
        }
    }

    static func proposal(
        _ action: CommandAction, agent: AgentRecord, by key: Curve25519.Signing.PrivateKey, now: Date = Date(),
        ttl: Double = 600, requestedBy: KeyID? = nil, preview: Bool = false, incident: Int64? = nil
    ) throws -> OperatorAPI.ProposalRequest {
        let signer = MessageSigner(privateKey: key)
        func seal(_ action: CommandAction) throws -> SignedEnvelope {
            try signer.seal(
                Command(
                    id: UUID().uuidString.lowercased(), agentID: agent.id, instance: agent.instance, action: action,
                    reason: "test", requestedBy: requestedBy ?? signer.keyID, issuedAt: now,
                    expiresAt: now.addingTimeInterval(ttl)), as: .command)
        }
        return OperatorAPI.ProposalRequest(
            command: try seal(action), preview: try (preview ? action.dryRunVariant : nil).map(seal),
            incidentId: incident)
    }

    static func approval(_ remediation: OperatorAPI.Remediation, by key: Curve25519.Signing.PrivateKey) throws
        -> Approval
    {
        Approval(
            commandID: remediation.id,
            signature: try MessageSigner(privateKey: key).signature(
                payloadType: .command, payload: Base64.decode(remediation.payload)!))
    }

    static func code(_ body: () async throws -> Void) async -> WireError.Code? {
        do {
            try await body()
            return nil
        } catch let error as WireError {
            return error.code
        } catch {
            return .internalError
        }
    }

    static func result(
        _ command: SignedEnvelope, agent: AgentRecord, key: Curve25519.Signing.PrivateKey, sequence: UInt64,
        outcome: CommandResult.Outcome, verification: [CheckResult] = []
    ) throws -> VerifiedAgentMessage<CommandResult> {
        let commandID = try WireCoding.decode(Command.self, from: command.payload).id
        let result = CommandResult(
            commandID: commandID, agentID: agent.id, instance: agent.instance, sequence: sequence, sentAt: Date(),
            outcome: outcome, refusal: outcome == .refused ? .replayed : nil, detail: "done", exitCode: 0,
            verification: verification)
        let envelope = try MessageSigner(privateKey: key).seal(result, as: .commandResult)
        return try AgentMessageVerifier().verify(
            CommandResult.self, envelope: envelope, from: AgentIdentity(id: agent.id, signingKey: key.publicKey),
            lastAcceptedSequence: nil, now: Date())
    }

    @Test(arguments: StoreKind.allCases) func aRestartIsApprovedByAnotherOperatorDispatchedOnceAndResolvesItsIncident(
        _ kind: StoreKind
    ) async throws {
        let scene = try await Scene(kind)
        defer { scene.fleet.directory.remove() }
        let (fleet, agent, agentKey, ops, engine, incident) = (
            scene.fleet, scene.agent, scene.agentKey, scene.ops, scene.engine, scene.incident
        )

        let policy = RemediationPolicy()
        let proposed = try await fleet.store.propose(
            try Self.proposal(.restartService(.sidekiq), agent: agent, by: ops.alice.key, incident: incident.id),
            by: ops.alice.record, policy: policy)
        let id = proposed.remediation.id
        #expect(proposed.remediation.state == "proposed" && proposed.remediation.requiredApprovals == 1)
        #expect(try await fleet.store.dispatch(agentID: agent.id).isEmpty)
        // The requester cannot approve; a signature by someone else's key, or over other bytes, is refused.
        #expect(
            await Self.code {
                _ = try await fleet.store.approve(
                    id, try Self.approval(proposed.remediation, by: ops.alice.key), by: ops.alice.record)
            } == .forbidden)
        #expect(
            await Self.code {
                _ = try await fleet.store.approve(
                    id, try Self.approval(proposed.remediation, by: ops.carol.key), by: ops.bob.record)
            } == .identityMismatch)
        var forged = try Self.approval(proposed.remediation, by: ops.bob.key)
        forged.signature.signature[0] ^= 1
        #expect(await Self.code { _ = try await fleet.store.approve(id, forged, by: ops.bob.record) } == .badSignature)
        let approved = try await fleet.store.approve(
            id, try Self.approval(proposed.remediation, by: ops.bob.key), by: ops.bob.record)
        #expect(approved.state == "approved" && approved.approvals.map(\.operator) == ["bob"])
        #expect(
            await Self.code {
                _ = try await fleet.store.approve(
                    id, try Self.approval(proposed.remediation, by: ops.bob.key), by: ops.bob.record)
            } == .conflict)

        // Dispatched once, with the requester's and the approver's signatures over the same bytes.
        let dispatched = try await fleet.store.dispatch(agentID: agent.id)
        #expect(dispatched.count == 1)
        let trusted = [
            ops.alice.record.signingKeyID: ops.alice.key.publicKey, ops.bob.record.signingKeyID: ops.bob.key.publicKey,
        ]
        #expect(EnvelopeVerifier.validSigners(of: dispatched[0], trusted: trusted).count == 2)
        #expect(try await fleet.store.dispatch(agentID: agent.id).isEmpty)
        let silences = try await fleet.store.silences(includeEnded: false)
        #expect(silences.count == 1 && silences.first?.value == "social.example")

        // The agent's result: sidekiq back, the services check OK again — the incident is resolved as
        // remediation, the maintenance window over.
        let verification = [
            CheckResult(checkID: "services", status: .ok, summary: "all units active", durationMilliseconds: 3)
        ]
        #expect(
            try await fleet.store.record(
                try Self.result(
                    dispatched[0], agent: agent, key: agentKey, sequence: 2, outcome: .succeeded,
                    verification: verification),
                receivedAt: Date().timeIntervalSince1970, engine: engine))
        let done = try #require(try await fleet.store.remediation(id: id)).remediation
        #expect(done.state == "succeeded" && done.verification.first?.status == "ok")
        let resolved = try #require(try await fleet.store.incident(id: incident.id)).incident
        #expect(resolved.state == "resolved" && resolved.resolution == "remediation")
        #expect(try await fleet.store.silences(includeEnded: false).isEmpty)
        // A later answer about the same command (an agent refusing a replay) does not overwrite it.
        _ = try await fleet.store.record(
            try Self.result(dispatched[0], agent: agent, key: agentKey, sequence: 3, outcome: .refused),
            receivedAt: Date().timeIntervalSince1970, engine: engine)
        #expect(try await fleet.store.remediation(id: id)?.remediation.state == "succeeded")
        // The same sequence again is a duplicate: nothing stored.
        #expect(
            try await !fleet.store.record(
                try Self.result(dispatched[0], agent: agent, key: agentKey, sequence: 3, outcome: .refused),
                receivedAt: Date().timeIntervalSince1970, engine: engine))
        // A relapse opens a new incident.
        _ = try await fleet.store.write(
            [fleet.report(agent, sequence: 4, statuses: ["services": .critical])], patterns: engine)
        #expect(try await fleet.store.incidents(openOnly: true).count == 1)

        let audit = try await fleet.store.auditEntries(after: 0, limit: 100).map(\.action)
        #expect(
            audit == [
                "remediation.propose", "remediation.approve", "remediation.dispatch", "remediation.result",
                "remediation.result-extra",
            ])
        #expect(try await fleet.store.verifyAudit().ok)
    }

    /// The service recovers and a regular report says so before the agent's result arrives (its
    /// verification waited for the service to settle): the incident is still the remediation's.
    @Test(arguments: StoreKind.allCases) func aRecoveryReportedWhileTheRemediationRunsIsTheRemediations(
        _ kind: StoreKind
    ) async throws {
        let scene = try await Scene(kind, resolveResults: 1)
        defer { scene.fleet.directory.remove() }
        let (fleet, agent, agentKey, ops, engine, incident) = (
            scene.fleet, scene.agent, scene.agentKey, scene.ops, scene.engine, scene.incident
        )
        let proposed = try await fleet.store.propose(
            try Self.proposal(.restartService(.sidekiq), agent: agent, by: ops.alice.key, incident: incident.id),
            by: ops.alice.record, policy: RemediationPolicy())
        _ = try await fleet.store.approve(
            proposed.remediation.id, try Self.approval(proposed.remediation, by: ops.bob.key), by: ops.bob.record)
        let dispatched = try await fleet.store.dispatch(agentID: agent.id)
        #expect(dispatched.count == 1)

        _ = try await fleet.store.write(
            [fleet.report(agent, sequence: 2, statuses: ["services": .ok])], patterns: engine)
        let recovered = try #require(try await fleet.store.incident(id: incident.id)).incident
        #expect(recovered.state == "resolved" && recovered.resolution == "remediation", "\(recovered)")

        #expect(
            try await fleet.store.record(
                try Self.result(dispatched[0], agent: agent, key: agentKey, sequence: 3, outcome: .succeeded),
                receivedAt: Date().timeIntervalSince1970, engine: engine))
        #expect(try await fleet.store.remediation(id: proposed.remediation.id)?.remediation.state == "succeeded")
        #expect(try await fleet.store.incident(id: incident.id)?.incident.resolution == "remediation")

        // Without a remediation running, a recovery is the incident's own.
        _ = try await fleet.store.write(
            [fleet.report(agent, sequence: 4, statuses: ["services": .critical])], patterns: engine)
        let relapse = try #require(try await fleet.store.incidents(openOnly: true).first)
        _ = try await fleet.store.write(
            [fleet.report(agent, sequence: 5, statuses: ["services": .ok])], patterns: engine)
        #expect(try await fleet.store.incident(id: relapse.id)?.incident.resolution == "self")
    }

    @Test(arguments: StoreKind.allCases) func proposalsAreCheckedAndDestructiveActionsNeedTwoOthers(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, _) = try await fleet.enroll("social.example")
        let (other, _) = try await fleet.enroll("other.example")
        let ops = try await Operators(fleet.store)
        let policy = RemediationPolicy()
        let store = fleet.store
        // Someone else's key named as requester; a command for an agent of another instance; too long a TTL.
        #expect(
            await Self.code {
                _ = try await store.propose(
                    try Self.proposal(
                        .restartService(.web), agent: agent, by: ops.alice.key, requestedBy: ops.bob.record.signingKeyID
                    ),
                    by: ops.alice.record, policy: policy)
            } == .identityMismatch)
        #expect(
            await Self.code {
                _ = try await store.propose(
                    try Self.proposal(.restartService(.web), agent: agent, by: ops.alice.key), by: ops.bob.record,
                    policy: policy)
            } == .badSignature)
        var wrong = try Self.proposal(.restartService(.web), agent: agent, by: ops.alice.key)
        var command = try WireCoding.decode(Command.self, from: wrong.command.payload)
        command.instance = other.instance
        wrong.command = try MessageSigner(privateKey: ops.alice.key).seal(command, as: .command)
        #expect(
            await Self.code { _ = try await store.propose(wrong, by: ops.alice.record, policy: policy) }
                == .invalidField)
        #expect(
            await Self.code {
                _ = try await store.propose(
                    try Self.proposal(.restartService(.web), agent: agent, by: ops.alice.key, ttl: 3600),
                    by: ops.alice.record, policy: policy)
            } == .invalidField)

        // media-remove: destructive, two approvals besides the requester; its dry run runs at once.
        let proposed = try await store.propose(
            try Self.proposal(.mediaRemove(.init(days: 7)), agent: agent, by: ops.alice.key, preview: true),
            by: ops.alice.record, policy: policy)
        #expect(proposed.remediation.requiredApprovals == 2 && proposed.preview?.state == "approved")
        let preview = try await store.dispatch(agentID: agent.id)
        #expect(preview.count == 1)
        #expect(try WireCoding.decode(Command.self, from: preview[0].payload).action.risk == .preview)
        let once = try await store.approve(
            proposed.remediation.id, try Self.approval(proposed.remediation, by: ops.bob.key), by: ops.bob.record)
        #expect(once.state == "proposed")
        #expect(try await store.dispatch(agentID: agent.id).isEmpty)
        // Frozen: approved but never dispatched, until thawed.
        _ = try await store.setFreeze(true, reason: "incident review", by: "carol")
        let twice = try await store.approve(
            proposed.remediation.id, try Self.approval(proposed.remediation, by: ops.carol.key), by: ops.carol.record)
        #expect(twice.state == "approved")
        #expect(try await store.dispatch(agentID: agent.id).isEmpty)
        #expect(try await store.freezeState().frozen)
        _ = try await store.setFreeze(false, reason: "done", by: "carol")
        #expect(try await store.dispatch(agentID: agent.id).count == 1)

        // Denied, and expired: neither can be approved any more.
        let denied = try await store.propose(
            try Self.proposal(.restartService(.web), agent: agent, by: ops.alice.key), by: ops.alice.record,
            policy: policy)
        #expect(try await store.deny(denied.remediation.id, reason: "not now", by: ops.bob.record).state == "denied")
        #expect(
            await Self.code {
                _ = try await store.approve(
                    denied.remediation.id, try Self.approval(denied.remediation, by: ops.bob.key), by: ops.bob.record)
            } == .conflict)
        let stale = try await store.propose(
            try Self.proposal(.restartService(.web), agent: agent, by: ops.alice.key, ttl: 60), by: ops.alice.record,
            policy: policy)
        #expect(
            await Self.code {
                _ = try await store.approve(
                    stale.remediation.id, try Self.approval(stale.remediation, by: ops.bob.key), by: ops.bob.record,
                    now: Date().timeIntervalSince1970 + 61)
            } == .conflict)
        #expect(try await store.remediation(id: stale.remediation.id)?.remediation.state == "expired")
        // Dispatched, and never answered: lost once the action's maintenance window (1 h + 5 min) is over.
        let previewID = try WireCoding.decode(Command.self, from: preview[0].payload).id
        let dispatched = try #require(try await store.remediation(id: previewID)?.remediation)
        #expect(dispatched.state == "dispatched")
        let later = try #require(dispatched.dispatchedAt).timeIntervalSince1970 + 3600 + 301
        _ = try await store.remediations(openOnly: true, now: later - 2)
        #expect(try await store.remediation(id: previewID)?.remediation.state == "dispatched")
        _ = try await store.remediations(openOnly: true, now: later)
        #expect(try await store.remediation(id: previewID)?.remediation.state == "lost")
        #expect(try await store.verifyAudit().ok)
    }

    /// Audit rows written before the chain existed are chained by the migration that adds it.
    @Test func theMigrationChainsTheAuditRowsAlreadyThere() async throws {
        let directory = try TemporaryDirectory("herd-store")
        defer { directory.remove() }
        let path = directory.file("herd.sqlite")
        try Store(path: path, migrateUpTo: "0003-incidents").close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            for n in 1...3 {
                try db.execute(
                    sql:
                        "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, 'alice', 'incident.ack', ?, '')",
                    arguments: [Double(n), "incident:\(n)"])
            }
        }
        try queue.close()
        let store = try Store(path: path)
        defer { try? store.close() }
        let verification = try await store.verifyAudit()
        #expect(verification.ok && verification.entries == 3, "\(verification.problems)")
        _ = try await store.setFreeze(true, reason: "after the upgrade", by: "bob")
        let entries = try await store.auditEntries(after: 0, limit: 10)
        #expect(entries.map(\.id) == [1, 2, 3, 4] && Set(entries.map(\.hash)).count == 4)
        #expect(try await store.verifyAudit().ok)
    }

    /// Text with a NUL byte never enters the chain: a reader stopping at it would see less than was hashed.
    @Test(arguments: StoreKind.allCases) func auditTextWithANulByteIsRefused(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        _ = try await fleet.store.setFreeze(true, reason: "drill", by: "alice")
        // Below every route's own validation: the chain itself refuses it.
        await #expect(throws: WireError.self) {
            try await fleet.store.write { db in
                try AuditChain.append(
                    db, at: 1, actor: "alice", action: "remediation.freeze", subject: "remediation:*",
                    detail: "drill\u{0}hidden")
            }
        }
        #expect(try await fleet.store.verifyAudit().ok)
    }

    /// Someone with the database file drops the triggers and edits it: every kind of edit is named.
    @Test(arguments: StoreKind.allCases) func theAuditChainNamesTheRowThatWasChangedDeletedOrMoved(_ kind: StoreKind)
        async throws
    {
        for tamper in ["change", "delete", "move", "delete the newest", "hide after a NUL"] {
            let fleet = try StoreTests.Fleet(kind)
            defer { fleet.directory.remove() }
            for n in 1...5 {
                _ = try await fleet.store.setFreeze(n % 2 == 1, reason: "drill \(n)", by: "alice")
            }
            #expect(try await fleet.store.verifyAudit().ok)
            // The triggers refuse edits through SQL…
            await #expect(throws: SQLError.self) {
                try await fleet.store.write { try $0.execute(sql: "UPDATE audit SET detail = 'x' WHERE id = 3") }
            }
            // …until someone removes them. (PostgreSQL's text cannot hold a NUL: nothing to hide after one.)
            if kind == .postgresql, tamper == "hide after a NUL" { continue }
            try await fleet.store.write { db in
                for trigger in ["audit_append_only_update", "audit_append_only_delete"] {
                    try db.execute(sql: "DROP TRIGGER \(trigger)" + (kind == .postgresql ? " ON audit" : ""))
                }
                switch tamper {
                case "change": try db.execute(sql: "UPDATE audit SET detail = 'nothing happened' WHERE id = 3")
                case "delete": try db.execute(sql: "DELETE FROM audit WHERE id = 3")
                case "move": try db.execute(sql: "UPDATE audit SET id = 9 WHERE id = 3")
                case "hide after a NUL":
                    try db.execute(sql: "UPDATE audit SET detail = detail || char(0) || 'and more' WHERE id = 3")
                default: try db.execute(sql: "DELETE FROM audit WHERE id = 5")
                }
            }
            let verification = try await fleet.store.verifyAudit()
            #expect(!verification.ok, "\(tamper)")
            let named = verification.problems.map(\.id)
            switch tamper {
            case "change", "hide after a NUL": #expect(named == [3], "\(verification.problems)")
            case "delete": #expect(named.first == 4, "\(verification.problems)")
            case "move": #expect(named.first == 4, "\(verification.problems)")
            default: #expect(named == [5], "\(verification.problems)")
            }
        }
    }
}
