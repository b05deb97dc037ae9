import Crypto
import Foundation
import GRDB
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing
import X509

/// The store on a real SQLite file: migrations, enrollment rules, idempotent ingest, current state.
@Suite struct StoreTests {
    /// Shipped migrations never change: a new schema is a new migration.
    @Test func shippedMigrationsAreFrozen() {
        let shipped = [
            ("0001-initial", "1b29414a947f0a79957a2790bf9f304bb60365cf36243a2a365b22c7b0bdfb81"),
            ("0002-instance-state", "bdc418efd88bee1dc6cc76f2f1dc8c4a244be3843f09a907f01c273c5876580d"),
            ("0003-incidents", "9388f734f88b2a675be260ce5b903c0dbce55e4355ccdf33f8d95d75edee7eed"),
            ("0004-remediation", "041aa7d69f48a937029df245c3e1e840ea527968a58b0074b3f27118fec36f86"),
            ("0005-incident-checks", "1579af4e348358f3b03a8c5ef55f48ce9fa25d611978b4a0ca574109a7bd8c7a"),
            ("0006-lost-reports", "948f69c23e721e7b28922f85c94316f7d34b7b75b49023a0575cb4ac75913b40"),
            ("0007-compact-history", "a97fce01ea78ccf8c39655bc283b206482084e2387eaad623c5b238a580c4eea"),
            ("0008-replicas", "68c20b273e4413a66ba80ccbfabeaf72ea04b4786860a1eeb034182b4214acef"),
            ("0009-history-partitions", "68f7c05b44e5adfca5b412fdc113312a112fad69c33e94009ea7a9cc4d899086"),
            ("0010-paging", "06f1c633c9103d8c26d6715fe4f2437320a9f2985bdda3ba99ce99c7559ecf3f"),
            ("0011-packed-history", "ec7b9a8386d516e68a59624ff60bb1862fa02705c0db063c615fdc61101e2830"),
            ("0012-agent-roles", "aec7dcf212fe4fe07fb4271b0c09b4cabb1cd41787811505df4a2c2d9bb5867f"),
        ]
        let current = Migrations.fingerprints
        #expect(current.count >= shipped.count)
        for (index, (identifier, sha256)) in shipped.enumerated() {
            #expect(current[index].identifier == identifier)
            #expect(current[index].sha256 == sha256, "migration \(identifier) changed after it shipped")
        }
    }

    /// A database as the first controller left it, with reports in it, gains the instance summaries
    /// that 0002 adds, computed from the states already there.
    @Test func upgradesADatabaseWithHistory() async throws {
        let directory = try TemporaryDirectory("herd-store")
        defer { directory.remove() }
        let path = directory.file("herd.sqlite")
        let old = try Store(path: path, migrateUpTo: "0001-initial")
        #expect(try old.appliedMigrations() == ["0001-initial"])
        try old.close()
        // Current states as the first schema holds them, written as its controller did.
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO instances (id, domain, created_at) VALUES (1, 'old.example', 0)")
            for (check, status) in [("disk", 1), ("sidekiq", 2), ("oom", 0)] {
                try db.execute(
                    sql: """
                        INSERT INTO check_state (instance_id, check_id, status, since, summary, last_at, recent)
                        VALUES (1, ?, ?, 0, 's', 0, 'o')
                        """, arguments: [check, status])
            }
        }
        try queue.close()
        let upgraded = try Store(path: path)
        #expect(try upgraded.appliedMigrations() == Migrations.fingerprints.map(\.identifier))
        let rows = try await upgraded.fleetStatus(now: 0, silenceIntervals: 3)
        #expect(rows.first?.overall == .critical)
        #expect(rows.first?.failing == ["sidekiq"] && rows.first?.warning == ["disk"])
        try upgraded.close()
    }

    /// Incidents open when 0005 arrives hold their own check, so they resolve as before; resolved ones
    /// get no row.
    @Test func openIncidentsHoldTheirCheckAfterTheUpgrade() async throws {
        let directory = try TemporaryDirectory("herd-store")
        defer { directory.remove() }
        let path = directory.file("herd.sqlite")
        try Store(path: path, migrateUpTo: "0004-remediation").close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "INSERT INTO instances (id, domain, created_at) VALUES (1, 'old.example', 0)")
            for (id, check, state) in [(1, "disk", "open"), (2, "sidekiq", "resolved")] {
                try db.execute(
                    sql: """
                        INSERT INTO incidents (id, kind, instance_id, check_id, subject, patterns, severity, state,
                            opened_at, updated_at, summary)
                        VALUES (?, 'instance', 1, ?, ?, 'persistent', 3, ?, 0, 0, 's')
                        """, arguments: [id, check, "check:\(check)", state])
            }
        }
        try queue.close()
        let upgraded = try Store(path: path)
        let incidents = try await upgraded.incidents(openOnly: false)
        #expect(incidents.first { $0.id == 1 }?.checks == ["disk"])
        #expect(incidents.first { $0.id == 2 }?.checks == ["sidekiq"])  // its own check, as ever
        try upgraded.close()
        let reader = try DatabaseQueue(path: path)
        defer { try? reader.close() }
        let held = try reader.read { db in
            try Row.fetchAll(db, sql: "SELECT check_id, status, cleared_at FROM incident_checks")
        }
        #expect(held.count == 1 && held[0][0] == "disk" && held[0][1] == 2 && held[0][2] == nil as Double?)
    }

    @Test func migratesAnEmptyDatabaseAndReopensIt() async throws {
        let directory = try TemporaryDirectory("herd-store")
        defer { directory.remove() }
        let path = directory.file("herd.sqlite")
        let store = try Store(path: path)
        #expect(try store.appliedMigrations() == Migrations.fingerprints.map(\.identifier))
        try store.close()
        // Reopening applies nothing twice and keeps the data.
        let again = try Store(path: path)
        #expect(try again.appliedMigrations() == Migrations.fingerprints.map(\.identifier))
        try again.close()
    }

    struct Fleet {
        let directory: TemporaryDirectory
        let store: Store
        let ca: FleetCA

        init(_ kind: StoreKind = .sqlite) throws {
            directory = try TemporaryDirectory("herd-store")
            store = try kind.makeStore(in: directory)
            ca = try FleetCA.create()
        }

        /// A fleet on a store opened elsewhere (a replica's, on a shared database).
        init(store: Store) throws {
            directory = try TemporaryDirectory("herd-store")
            self.store = store
            ca = try FleetCA.create()
        }

        func request(
            token: String, instance: String, key: Curve25519.Signing.PrivateKey, role: AgentRole? = nil,
            hostname: String = "masto-1"
        ) throws -> EnrollRequest {
            let tls = P256.Signing.PrivateKey()
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName("ignored") },
                privateKey: .init(tls), attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
            return EnrollRequest(
                token: token, instance: instance, agentVersion: "0.1.0",
                signingPublicKey: Base64.encode(key.publicKey.rawRepresentation),
                csrPEM: try csr.serializeAsPEM().pemString,
                host: HostFacts(hostname: hostname, tags: [:]), sentAt: Date(), role: role)
        }

        func issue(_ csrPEM: String) -> @Sendable (String) throws -> IssuedCertificate {
            let ca = self.ca
            return { agentID in
                let certificate = try ca.issueClient(csrPEM: csrPEM, commonName: "herd-agent:\(agentID)")
                return IssuedCertificate(
                    pem: try certificate.serializeAsPEM().pemString, fingerprint: FleetCA.fingerprint(certificate))
            }
        }

        func enroll(
            _ instance: String, autoAccept: Bool = true, role: AgentRole? = nil, hostname: String = "masto-1"
        ) async throws -> (AgentRecord, Curve25519.Signing.PrivateKey) {
            let token = try await store.createToken(
                instance: instance, ttl: 3600, autoAccept: autoAccept, createdBy: nil)
            let key = Curve25519.Signing.PrivateKey()
            let request = try request(token: token, instance: instance, key: key, role: role, hostname: hostname)
            let agent = try await store.enroll(request, signingKey: key.publicKey, issue: issue(request.csrPEM))
            return (agent, key)
        }

        func report(_ agent: AgentRecord, sequence: UInt64, statuses: [String: CheckStatus], at: Date = Date())
            -> AcceptedReport
        {
            var accepted = report(
                agentID: agent.id, instance: agent.instance, sequence: sequence, statuses: statuses, at: at)
            accepted.hostLabel = agent.hostLabel
            return accepted
        }

        func report(
            agentID: String, instance: String, sequence: UInt64, statuses: [String: CheckStatus], at: Date = Date()
        ) -> AcceptedReport {
            let results = statuses.sorted { $0.key < $1.key }.map { id, status in
                CheckResult(
                    checkID: id, status: status, summary: "\(id) is \(status.rawValue)", durationMilliseconds: 1.5,
                    metrics: ["value": Double(sequence)], findings: [])
            }
            let report = Report(
                agentID: agentID, instance: instance, sequence: sequence, collectedAt: at, sentAt: at,
                agentVersion: "0.1.0", intervalSeconds: 60,
                host: HostFacts(hostname: "masto-1", mastodonVersion: "4.3.2", tags: ["region": "eu"]), results: results
            )
            return AcceptedReport(agentID: agentID, report: report, receivedAt: at.timeIntervalSince1970)
        }
    }

    @Test(arguments: StoreKind.allCases) func enrollmentTokensAreOneTimeExpiringAndPerInstance(_ kind: StoreKind)
        async throws
    {
        let fleet = try Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, key) = try await fleet.enroll("social.example")
        #expect(agent.state == .accepted)
        #expect(agent.certificateFingerprint?.count == 64)

        // The same request again (same key): the current state, not a second agent.
        let token = try await fleet.store.createToken(
            instance: "b.example", ttl: 3600, autoAccept: false, createdBy: nil)
        let key2 = Curve25519.Signing.PrivateKey()
        let request = try fleet.request(token: token, instance: "b.example", key: key2)
        let pending = try await fleet.store.enroll(
            request, signingKey: key2.publicKey, issue: fleet.issue(request.csrPEM))
        #expect(pending.state == .pending && pending.certificatePEM == nil)
        let again = try await fleet.store.enroll(
            request, signingKey: key2.publicKey, issue: fleet.issue(request.csrPEM))
        #expect(again.id == pending.id)
        // Another key with a used token: refused.
        let thief = Curve25519.Signing.PrivateKey()
        await #expect(throws: WireError.self) {
            try await fleet.store.enroll(
                try fleet.request(token: token, instance: "b.example", key: thief), signingKey: thief.publicKey,
                issue: fleet.issue(request.csrPEM))
        }
        // A token for another instance, an expired token, an unknown token.
        let other = try await fleet.store.createToken(
            instance: "c.example", ttl: 3600, autoAccept: true, createdBy: nil)
        let expired = try await fleet.store.createToken(
            instance: "d.example", ttl: 10, autoAccept: true, createdBy: nil, now: Date().timeIntervalSince1970 - 60)
        for (token, instance) in [(other, "z.example"), (expired, "d.example"), ("herd1-nope", "e.example")] {
            let k = Curve25519.Signing.PrivateKey()
            do {
                _ = try await fleet.store.enroll(
                    try fleet.request(token: token, instance: instance, key: k), signingKey: k.publicKey,
                    issue: fleet.issue(request.csrPEM))
                Issue.record("enrolled with \(token)")
            } catch let error as WireError {
                #expect(error.code == .invalidToken)
            }
        }
        // A second agent for an enrolled instance.
        let dup = try await fleet.store.createToken(
            instance: "social.example", ttl: 3600, autoAccept: true, createdBy: nil)
        let k = Curve25519.Signing.PrivateKey()
        do {
            _ = try await fleet.store.enroll(
                try fleet.request(token: dup, instance: "social.example", key: k), signingKey: k.publicKey,
                issue: fleet.issue(request.csrPEM))
            Issue.record("two agents for one instance")
        } catch let error as WireError {
            #expect(error.code == .duplicateInstance)
        }
        // Accepting the pending one issues its certificate; revoking frees the instance.
        let accepted = try await fleet.store.accept(agentID: pending.id, issue: fleet.issue(request.csrPEM))
        #expect(accepted.state == .accepted && accepted.certificatePEM != nil)
        let revoked = try await fleet.store.revoke(agentID: agent.id)
        #expect(revoked.state == .revoked)
        #expect(try await fleet.store.agent(fingerprint: agent.certificateFingerprint!)?.state == .revoked)
        _ = key
    }

    @Test(arguments: StoreKind.allCases) func reportsAreStoredOnceAndUpdateTheCurrentState(_ kind: StoreKind)
        async throws
    {
        let fleet = try Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, _) = try await fleet.enroll("social.example")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let writer = ReportWriter(store: fleet.store)
        // The agent is looked up (and so cached) before its first report, as the ingest route does.
        let fingerprint = try #require(agent.certificateFingerprint)
        #expect(try await fleet.store.agent(fingerprint: fingerprint)?.lastSequence == nil)
        #expect(
            try await writer.submit(fleet.report(agent, sequence: 1, statuses: ["disk": .ok, "sidekiq": .ok], at: t0)))
        // A retry of the same sequence, and an older one racing it: not stored again.
        #expect(try await !writer.submit(fleet.report(agent, sequence: 1, statuses: ["disk": .ok], at: t0)))
        let t1 = t0.addingTimeInterval(60)
        #expect(
            try await writer.submit(
                fleet.report(agent, sequence: 2, statuses: ["disk": .ok, "sidekiq": .critical], at: t1)))
        let t2 = t1.addingTimeInterval(60)
        #expect(
            try await writer.submit(
                fleet.report(agent, sequence: 3, statuses: ["disk": .ok, "sidekiq": .critical], at: t2)))

        #expect(try await fleet.store.lastSequence(agentID: agent.id) == 3)
        // The cached record follows the database: replays are judged against the sequence stored.
        #expect(try await fleet.store.agent(fingerprint: fingerprint)?.lastSequence == 3)
        let state = try await fleet.store.checkStates(instance: "social.example")
        let sidekiq = try #require(state.first { $0.checkID == "sidekiq" })
        #expect(sidekiq.status == .critical)
        #expect(sidekiq.since == t1.timeIntervalSince1970)  // critical since the second report
        #expect(sidekiq.recent == "occ")
        let disk = try #require(state.first { $0.checkID == "disk" })
        #expect(disk.since == t0.timeIntervalSince1970 && disk.recent == "ooo")
        #expect(try await fleet.store.count(.history) == 3)
        let history = try await fleet.store.history(
            instance: "social.example", since: t0.timeIntervalSince1970, until: t2.timeIntervalSince1970 + 1)
        #expect(history.map(\.sequence) == [1, 2, 3])
        #expect(history.map { $0.results.map(\.status) } == [[.ok, .ok], [.ok, .critical], [.ok, .critical]])
    }

    @Test(arguments: StoreKind.allCases) func concurrentSubmissionsAreGroupCommitted(_ kind: StoreKind) async throws {
        let fleet = try Fleet(kind)
        defer { fleet.directory.remove() }
        var agents: [AgentRecord] = []
        for i in 0..<20 { agents.append(try await fleet.enroll("i\(i).example").0) }
        let writer = ReportWriter(store: fleet.store)
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for agent in agents {
                for sequence in 1...10 {
                    let report = fleet.report(agent, sequence: UInt64(sequence), statuses: ["disk": .ok])
                    group.addTask { try await writer.submit(report) }
                }
            }
            for try await _ in group {}
        }
        // Out-of-order arrival within an agent can make an older sequence lose to a newer one: what
        // matters is that every stored report is unique and the last sequence is the highest.
        for agent in agents { #expect(try await fleet.store.lastSequence(agentID: agent.id) == 10) }
        #expect(await writer.batches < 200)
    }
}

extension StoreTests {
    /// An agent that misses `silence.intervals` intervals turns the instance `silent`, whatever its checks said.
    @Test(arguments: StoreKind.allCases) func silentAfterThreeMissedIntervals(_ kind: StoreKind) async throws {
        let fleet = try Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, _) = try await fleet.enroll("social.example")
        let (waiting, _) = try await fleet.enroll("quiet.example")
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        _ = try await fleet.store.write([fleet.report(agent, sequence: 1, statuses: ["disk": .critical], at: t0)])
        var rows = try await fleet.store.fleetStatus(now: t0.timeIntervalSince1970 + 170, silenceIntervals: 3)
        #expect(rows.map(\.instance) == ["social.example", "quiet.example"])
        #expect(rows[0].overall == .critical && rows[0].failing == ["disk"])
        #expect(rows[1].overall == .waiting && rows[1].agentID == waiting.id)
        rows = try await fleet.store.fleetStatus(now: t0.timeIntervalSince1970 + 181, silenceIntervals: 3)
        #expect(rows[0].overall == .silent)
    }
}
