import AsyncHTTPClient
import Crypto
import Foundation
import HerdProtocol
import HerdTestSupport
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing
import X509

@testable import HerdController

/// Two real `herd-controller serve` replicas on one real PostgreSQL, behind nginx's `stream` balancer
/// (mutual TLS passing through), with simulated agents reporting through the balancer as fast as they
/// are acknowledged: the leader is killed with SIGKILL mid-stream, then PostgreSQL is restarted under
/// load. No report is lost or stored twice, the survivor takes the lead, and no notification is posted
/// twice (but for one in flight at the kill or as PostgreSQL stopped — posted, its `sent` not yet
/// recorded — which goes out again with the same `Idempotency-Key`).
@Suite(.serialized) struct ReplicaFailoverTests {
    /// One simulated agent: its identity, its signer, and the client that presents its certificate.
    struct Agent: Sendable {
        let id: String
        let instance: String
        let signer: MessageSigner
        let client: HTTPClient
    }

    static func client(caPEM: String, identity: (certificate: String, key: String)?) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        if let identity {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificate.utf8)).map {
                .certificate($0)
            }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.key.utf8), format: .pem))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    /// POSTs `body`: the status and the answer's bytes (nil when no answer came).
    static func answer(_ client: HTTPClient, _ url: String, _ body: [UInt8]) async -> (status: Int, body: [UInt8])? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        guard let response = try? await client.execute(request, timeout: .seconds(20)),
            let bytes = try? await response.body.collect(upTo: 1 << 20)
        else { return nil }
        return (Int(response.status.code), Array(bytes.readableBytesView))
    }

    /// POSTs `body`; the answer's bytes on a 200, nil on anything else (the caller retries). `refusals`
    /// hears every other status.
    static func post(
        _ client: HTTPClient, _ url: String, _ body: [UInt8], refusals: Refusals? = nil
    ) async -> [UInt8]? {
        guard let (status, bytes) = await answer(client, url, body) else { return nil }
        guard status == 200 else {
            refusals?.statuses.withLock { $0.append(status) }
            return nil
        }
        return bytes
    }

    static func report(_ agent: Agent, sequence: UInt64, critical: Bool) throws -> [UInt8] {
        let now = Date()
        let report = Report(
            agentID: agent.id, instance: agent.instance, sequence: sequence,
            collectedAt: now, sentAt: now, agentVersion: HerdVersion.current, intervalSeconds: 60,
            host: HostFacts(hostname: agent.instance, mastodonVersion: "4.3.2"),
            results: [
                CheckResult(
                    checkID: "services", status: critical ? .critical : .ok,
                    summary: critical ? "sidekiq failed" : "ok",
                    durationMilliseconds: 1, metrics: [:], findings: []),
                CheckResult(
                    checkID: "disk", status: .ok, summary: "ok", durationMilliseconds: 1,
                    metrics: ["used_percent": Double(sequence % 50)], findings: []),
            ])
        return WireCoding.encode(try agent.signer.seal(report, as: .report))
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    final class Refusals: Sendable {
        let statuses = Mutex<[Int]>([])
    }

    /// Every HTTP client the test made, shut down at its end whatever happened (a client must be).
    final class Clients: @unchecked Sendable {
        private let made = Mutex<[HTTPClient]>([])

        func make(caPEM: String, identity: (certificate: String, key: String)?) throws -> HTTPClient {
            let client = try ReplicaFailoverTests.client(caPEM: caPEM, identity: identity)
            made.withLock { $0.append(client) }
            return client
        }

        func shutdown() async {
            for client in made.withLock({ $0 }) { try? await client.shutdown() }
        }

        /// herdctl's identity from `replicas`' init: the fleet CA and a client presenting the operator.
        func operatorClient(of replicas: ReplicaSet) throws -> (caPEM: String, client: HTTPClient) {
            let caPEM = try SecureFile.readText(replicas.herdctlDirectory + "/ca.pem")
            return (
                caPEM,
                try make(
                    caPEM: caPEM,
                    identity: (
                        try SecureFile.readText(replicas.herdctlDirectory + "/certificate.pem"),
                        try SecureFile.readText(replicas.herdctlDirectory + "/tls-key.pem")
                    ))
            )
        }
    }

    /// Runs `body` with a `Clients`, shut down afterwards whether it threw or not.
    static func withClients(_ body: (Clients) async throws -> Void) async throws {
        let clients = Clients()
        do {
            try await body(clients)
        } catch {
            await clients.shutdown()
            throw error
        }
        await clients.shutdown()
    }

    /// Two replicas on a new database, addressed each directly, and an agent enrolled through the first.
    static func twoReplicas(agent instance: String, clients: Clients) async throws -> (
        replicas: ReplicaSet, first: String, second: String, operatorClient: HTTPClient, agent: Agent
    ) {
        let replicas = try ReplicaSet(
            binary: try BuiltProduct.path("herd-controller"), replicas: 2, store: try TestPostgres.newDatabase())
        let first = "https://127.0.0.1:\(replicas.replicaPorts[0])"
        let (caPEM, operatorClient) = try clients.operatorClient(of: replicas)
        let agent = try await enroll(
            instance, at: first, caPEM: caPEM, operator: operatorClient,
            anonymous: try clients.make(caPEM: caPEM, identity: nil), clients: clients)
        return (replicas, first, "https://127.0.0.1:\(replicas.replicaPorts[1])", operatorClient, agent)
    }

    /// An agent enrolled for `instance` through `base` (a token from the operator, a CSR, the certificate
    /// back), with a client presenting it.
    static func enroll(
        _ instance: String, at base: String, caPEM: String, operator operatorClient: HTTPClient,
        anonymous: HTTPClient, clients: Clients
    ) async throws -> Agent {
        let tokenBody = try #require(
            await post(
                operatorClient, base + "/v1/tokens",
                Array(#"{"instance":"\#(instance)","ttl_seconds":3600,"auto_accept":true}"#.utf8)))
        let token = try JSONCodable.decode(OperatorAPI.Token.self, from: Data(tokenBody))
        let enrollment = try SimulatedEnrollment(instance: instance, token: token.token, hostname: instance)
        let answerBody = try #require(await post(anonymous, base + "/v1/enroll", enrollment.body))
        let answer = try WireCoding.decode(EnrollResponse.self, from: answerBody)
        return Agent(
            id: answer.agentID, instance: instance, signer: enrollment.signer,
            client: try clients.make(
                caPEM: caPEM, identity: (answer.certificatePEM ?? "", enrollment.tlsKey.pemRepresentation)))
    }

    @Test func killingTheLeaderAndRestartingPostgreSQLUnderLoadLosesNothing() async throws {
        try await Self.withClients { try await killTheLeaderAndRestartPostgreSQL($0) }
    }

    func killTheLeaderAndRestartPostgreSQL(_ clients: Clients) async throws {
        let cluster = try PostgresCluster(settings: ["max_connections = 60"])
        defer { cluster.stop() }
        try cluster.sql("CREATE DATABASE herd")
        let store = "postgresql://postgres:postgres-secret@127.0.0.1:\(cluster.port)/herd?sslmode=disable"
        let webhook = try WebhookReceiver()
        defer { webhook.stop() }
        let replicas = try ReplicaSet(
            binary: try BuiltProduct.path("herd-controller"), replicas: 2, store: store,
            settings: [
                "notify.webhook.ops = \(webhook.url)", "notify.group_wait = 0s", "silence.intervals = 1000",
                "patterns.persistent.check.services = 1/0s/2", "server.max_connections_per_address = 1000",
            ])
        defer { replicas.stop() }
        let base = "https://127.0.0.1:\(replicas.port)"
        let (caPEM, operatorClient) = try clients.operatorClient(of: replicas)
        let anonymous = try clients.make(caPEM: caPEM, identity: nil)

        // Eight agents enrol through the balancer.
        var enrolled: [Agent] = []
        for index in 0..<8 {
            enrolled.append(
                try await Self.enroll(
                    "i\(index).replicas.example", at: base, caPEM: caPEM, operator: operatorClient,
                    anonymous: anonymous, clients: clients))
        }
        let agents = enrolled
        let perAgent = 60
        let acknowledged = Counter()
        let refusals = Refusals()
        let sender = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, agent) in agents.enumerated() {
                    group.addTask {
                        for sequence in 1...perAgent {
                            let envelope = try Self.report(
                                agent, sequence: UInt64(sequence),
                                critical: (index == 0 && (8...30).contains(sequence))
                                    || (index == 1 && (33...56).contains(sequence)))
                            while await Self.post(
                                agent.client, base + "/v1/reports", envelope, refusals: refusals) == nil
                            {
                                try Task.checkCancellation()
                                try await Task.sleep(for: .milliseconds(100))
                            }
                            acknowledged.value.add(1, ordering: .relaxed)
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        defer { sender.cancel() }
        let total = agents.count * perAgent
        func waitFor(_ count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(180)
            while acknowledged.value.load(ordering: .relaxed) < count {
                guard ContinuousClock.now < deadline else {
                    Issue.record("only \(acknowledged.value.load(ordering: .relaxed)) of \(count) reports acknowledged")
                    throw CancellationError()
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        let reader = try Store(location: store)
        defer { try? reader.close() }
        /// The replica leading now (by the pid in the leadership row), waiting for one.
        func leader(not excluded: Int? = nil) async throws -> (index: Int, epoch: Int64) {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if let row = try? await reader.leader() {
                    for index in 0..<2 where index != excluded {
                        if let pid = replicas.process(index)?.process.processIdentifier,
                            row.holder.hasSuffix(" pid \(pid)")
                        {
                            return (index, row.epoch)
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw FixtureError("no replica took the lead within 30 s")
        }

        // 1. A third of the way, the leader dies with SIGKILL; the other takes over its work.
        try await waitFor(total / 3)
        let first = try await leader()
        let killedAt = Date()
        replicas.kill(first.index)
        let second = try await leader(not: first.index)
        #expect(second.epoch > first.epoch)

        // 2. The killed replica comes back; two thirds of the way, PostgreSQL restarts under load.
        try replicas.start(first.index)
        try await waitFor(2 * total / 3)
        let haltedAt = Date()
        try cluster.halt()
        try await Task.sleep(for: .seconds(2))
        try cluster.resume()
        let resumedAt = Date()
        _ = try await leader()
        try await waitFor(total)
        try await sender.value

        // While PostgreSQL was down the replicas answered 503 `unavailable` (retry), nothing else.
        #expect(Set(refusals.statuses.withLock { $0 }).isSubset(of: [503]), "\(refusals.statuses.withLock { $0 })")
        // Nothing lost, nothing stored twice: every agent's sequences 1…60, once each.
        for agent in agents {
            let history = try await reader.history(
                instance: agent.instance, since: 0, until: Date().timeIntervalSince1970 + 60)
            #expect(history.map(\.sequence) == (1...UInt64(perAgent)).map { $0 }, "\(agent.instance)")
        }
        // Each notification settled (a claim the killed leader held lapses first), and posted once.
        let deadline = ContinuousClock.now + .seconds(Int64(Store.notificationClaimSeconds) + 30)
        while ContinuousClock.now < deadline {
            let open = try await reader.read { db in
                try Int.fetchOne(db, sql: "SELECT count(*) FROM notifications WHERE state = 'pending'") ?? 0
            }
            if open == 0 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        // Two agents' incidents, each opened and resolved. An opening never attempted before its
        // incident resolved (no leader for a moment) is cancelled; one that was sent has its resolution sent.
        let rows = try await reader.read { db in
            try SQLRow.fetchAll(db, sql: "SELECT incident_id, transition, state FROM notifications ORDER BY id")
        }
        let states = rows.map { "\($0[0] as Int64) \($0[1] as String) \($0[2] as String)" }
        #expect(states.allSatisfy { !$0.hasSuffix("pending") && !$0.hasSuffix("failed") }, "\(states)")
        #expect(states.contains { $0.hasSuffix("opened sent") }, "\(states)")
        for row in rows where row[1] as String == "opened" && row[2] as String == "sent" {
            #expect(states.contains("\(row[0] as Int64) resolved sent"), "\(states)")
        }
        let byKey = Dictionary(grouping: webhook.accepted, by: { $0.idempotencyKey ?? "" })
        #expect(byKey.count == states.filter { $0.hasSuffix(" sent") }.count)
        for (key, deliveries) in byKey where deliveries.count > 1 {
            // Only a delivery in flight when the leader died, or when PostgreSQL stopped under it, may
            // go out again, with the same key.
            let first = deliveries[0].receivedAt
            let inFlight =
                abs(first.timeIntervalSince(killedAt)) < 2
                || (first > haltedAt.addingTimeInterval(-2) && first < resumedAt.addingTimeInterval(2))
            #expect(
                deliveries.count == 2 && inFlight,
                "\(key): first \(first), killed \(killedAt), PostgreSQL down \(haltedAt)–\(resumedAt)")
        }
    }

    /// A replica whose memory of an agent is stale (the agent's later reports went through the other)
    /// answers as the database says: an older sequence is `replayed_sequence` with the true last, the
    /// last one a `duplicate`, and a revocation made on the other replica holds at once.
    @Test func aReplicaWithAStaleViewOfAnAgentAnswersAsTheDatabaseSays() async throws {
        try await Self.withClients { try await staleReplica($0) }
    }

    func staleReplica(_ clients: Clients) async throws {
        let (replicas, first, second, operatorClient, agent) = try await Self.twoReplicas(
            agent: "stale.example", clients: clients)
        defer { replicas.stop() }
        func send(_ sequence: UInt64, to base: String) async throws -> (status: Int, text: String) {
            let answer = try #require(
                await Self.answer(
                    agent.client, base + "/v1/reports", try Self.report(agent, sequence: sequence, critical: false)))
            return (answer.status, String(decoding: answer.body, as: UTF8.self))
        }
        // The second replica learns the agent at sequence 1; 2…5 go through the first.
        #expect(try await send(1, to: second).status == 200)
        for sequence in UInt64(2)...5 { #expect(try await send(sequence, to: first).status == 200) }
        let replayed = try await send(3, to: second)
        #expect(replayed.status == 409 && replayed.text.contains("replayed_sequence"), "\(replayed)")
        #expect(replayed.text.contains(#""last_accepted_sequence":5"#), "\(replayed)")
        let retry = try await send(5, to: second)
        #expect(retry.status == 200 && retry.text.contains(#""duplicate":true"#), "\(retry)")
        let next = try await send(6, to: second)
        #expect(next.status == 200 && next.text.contains(#""duplicate":false"#), "\(next)")

        // Revoked through the first replica: the second refuses the agent's next report.
        let revoked = try #require(await Self.answer(operatorClient, first + "/v1/agents/\(agent.id)/revoke", []))
        #expect(revoked.status == 200)
        let refused = try await send(7, to: second)
        #expect(refused.status == 403 && refused.text.contains("revoked"), "\(refused)")
    }

    /// The agent's long-poll is held by one replica and the command proposed through the other: the
    /// poll returns with it at once (NOTIFY from the proposing replica), and it goes out once.
    @Test func aCommandProposedOnOneReplicaWakesThePollHeldByTheOther() async throws {
        try await Self.withClients { try await wakeAcrossReplicas($0) }
    }

    func wakeAcrossReplicas(_ clients: Clients) async throws {
        let (replicas, first, second, operatorClient, agent) = try await Self.twoReplicas(
            agent: "wake.example", clients: clients)
        defer { replicas.stop() }
        func poll(_ base: String, wait: Int) async throws -> CommandBatch {
            let response = try await agent.client.execute(
                HTTPClientRequest(url: base + "/v1/commands?wait=\(wait)"), timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status == .ok)
            return try WireCoding.decode(CommandBatch.self, from: Array(body.readableBytesView))
        }

        let started = ContinuousClock.now
        let held = Task { try await poll(second, wait: 40) }
        try await Task.sleep(for: .seconds(1))
        // The admin proposes a dry run through the first replica: no approval needed, dispatchable at once.
        let signer = MessageSigner(
            privateKey: try SigningKeyPEM.load(from: replicas.herdctlDirectory + "/signing-key.pem"))
        let now = Date()
        let command = Command(
            id: UUID().uuidString.lowercased(), agentID: agent.id, instance: agent.instance,
            action: .mediaRemove(.init(days: 7, dryRun: true)), reason: "replica test", requestedBy: signer.keyID,
            issuedAt: now, expiresAt: now.addingTimeInterval(600))
        let proposal = OperatorAPI.ProposalRequest(
            command: try signer.seal(command, as: .command), preview: nil, incidentId: nil)
        let proposed = try #require(
            await Self.answer(operatorClient, first + "/v1/remediations", try JSONCodable.encode(proposal)))
        #expect(proposed.status == 200, "\(String(decoding: proposed.body, as: UTF8.self))")

        let batch = try await held.value
        #expect(batch.commands.count == 1)
        // Woken, not timed out: well before the poll's 40 s.
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(try await poll(first, wait: 0).commands.isEmpty)
        #expect(try await poll(second, wait: 0).commands.isEmpty)
    }
}
