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
/// twice (but for one in flight at the kill, which carries its `Idempotency-Key` again).
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

    /// POSTs `body`; the answer's bytes on a 200, nil on anything else (the caller retries).
    static func post(_ client: HTTPClient, _ url: String, _ body: [UInt8]) async -> [UInt8]? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        guard let response = try? await client.execute(request, timeout: .seconds(20)),
            let bytes = try? await response.body.collect(upTo: 1 << 20), response.status == .ok
        else { return nil }
        return Array(bytes.readableBytesView)
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
    }

    @Test func killingTheLeaderAndRestartingPostgreSQLUnderLoadLosesNothing() async throws {
        let clients = Clients()
        do {
            try await killTheLeaderAndRestartPostgreSQL(clients)
        } catch {
            await clients.shutdown()
            throw error
        }
        await clients.shutdown()
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
        let caPEM = try SecureFile.readText(replicas.herdctlDirectory + "/ca.pem")
        let operatorClient = try clients.make(
            caPEM: caPEM,
            identity: (
                try SecureFile.readText(replicas.herdctlDirectory + "/certificate.pem"),
                try SecureFile.readText(replicas.herdctlDirectory + "/tls-key.pem")
            ))
        let anonymous = try clients.make(caPEM: caPEM, identity: nil)

        // Eight agents enrol through the balancer.
        var enrolled: [Agent] = []
        for index in 0..<8 {
            let instance = "i\(index).replicas.example"
            let tokenBody = try #require(
                await Self.post(
                    operatorClient, base + "/v1/tokens",
                    Array(#"{"instance":"\#(instance)","ttl_seconds":3600,"auto_accept":true}"#.utf8)))
            let token = try JSONCodable.decode(OperatorAPI.Token.self, from: Data(tokenBody))
            let signing = Curve25519.Signing.PrivateKey()
            let tls = P256.Signing.PrivateKey()
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(instance) }, privateKey: .init(tls),
                attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
            let signer = MessageSigner(privateKey: signing)
            let request = EnrollRequest(
                token: token.token, instance: instance, agentVersion: HerdVersion.current,
                signingPublicKey: Base64.encode(signing.publicKey.rawRepresentation),
                csrPEM: try csr.serializeAsPEM().pemString, host: HostFacts(hostname: instance), sentAt: Date())
            let answerBody = try #require(
                await Self.post(
                    anonymous, base + "/v1/enroll", WireCoding.encode(try signer.seal(request, as: .enrollRequest))))
            let answer = try WireCoding.decode(EnrollResponse.self, from: answerBody)
            enrolled.append(
                Agent(
                    id: answer.agentID, instance: instance, signer: signer,
                    client: try clients.make(
                        caPEM: caPEM, identity: (answer.certificatePEM ?? "", tls.pemRepresentation))))
        }

        // Each agent sends its reports in order, each until acknowledged (through whichever replica the
        // balancer picks; a refused or broken attempt is retried, as the agent's outbox does). Two
        // agents' `services` fail for a while, at different times: incidents open and resolve, notifications go out.
        let agents = enrolled
        let perAgent = 60
        let acknowledged = Counter()
        let sender = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, agent) in agents.enumerated() {
                    group.addTask {
                        for sequence in 1...perAgent {
                            let envelope = try Self.report(
                                agent, sequence: UInt64(sequence),
                                critical: (index == 0 && (8...30).contains(sequence))
                                    || (index == 1 && (33...56).contains(sequence)))
                            while await Self.post(agent.client, base + "/v1/reports", envelope) == nil {
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
        try cluster.halt()
        try await Task.sleep(for: .seconds(2))
        try cluster.resume()
        _ = try await leader()
        try await waitFor(total)
        try await sender.value

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
            // Only a delivery in flight when the leader died may go out again, with the same key.
            #expect(deliveries.count == 2 && abs(deliveries[0].receivedAt.timeIntervalSince(killedAt)) < 2, "\(key)")
        }
    }
}
