import AsyncHTTPClient
import Foundation
import HerdProtocol
import HerdTestSupport
import Synchronization
import Testing

@testable import HerdController

extension ReplicaFailoverTests {
    /// Commands approved while a replica dies with SIGKILL: the agent long-polls through the balancer
    /// (so either replica may hold its poll), dry runs are proposed one after another (dispatchable at
    /// once), and one replica is killed just after a proposal, while the poll it woke may be answering.
    /// No command reaches the agent twice; every one proposed after the kill reaches it; at most the one
    /// in flight at the kill is lost, and it stays `dispatched` (never handed out again).
    @Test func aReplicaKilledWithCommandsInFlightHandsNoneOutTwice() async throws {
        try await Self.withClients { try await killWithCommandsInFlight($0) }
    }

    func killWithCommandsInFlight(_ clients: Clients) async throws {
        let store = try TestPostgres.newDatabase()
        let replicas = try ReplicaSet(binary: try BuiltProduct.path("herd-controller"), replicas: 2, store: store)
        defer { replicas.stop() }
        let base = "https://127.0.0.1:\(replicas.port)"
        let (caPEM, operatorClient) = try clients.operatorClient(of: replicas)
        let agent = try await Self.enroll(
            "inflight.example", at: base, caPEM: caPEM, operator: operatorClient,
            anonymous: try clients.make(caPEM: caPEM, identity: nil), clients: clients)
        let signer = MessageSigner(
            privateKey: try SigningKeyPEM.load(from: replicas.herdctlDirectory + "/signing-key.pem"))

        // The agent: long-polls through the balancer, again at once after an answer, after 100 ms after
        // a failure (the replica holding the poll died), and counts each command id it is handed.
        let received = Mutex<[String: Int]>([:])
        let poller = Task {
            while !Task.isCancelled {
                var request = HTTPClientRequest(url: base + "/v1/commands?wait=5")
                request.method = .GET
                if let response = try? await agent.client.execute(request, timeout: .seconds(30)),
                    response.status == .ok,
                    let body = try? await response.body.collect(upTo: 1 << 20),
                    let batch = try? WireCoding.decode(CommandBatch.self, from: Array(body.readableBytesView))
                {
                    for envelope in batch.commands {
                        let command = try WireCoding.decode(Command.self, from: envelope.payload)
                        received.withLock { $0[command.id, default: 0] += 1 }
                    }
                } else {
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        defer { poller.cancel() }

        let reader = try Store(location: store)
        defer { try? reader.close() }
        /// Proposes a dry run through the balancer until the store holds it (a proposal the dying replica
        /// took may or may not have committed: the store says which).
        func propose(_ index: Int) async throws -> String {
            let now = Date()
            let command = Command(
                id: UUID().uuidString.lowercased(), agentID: agent.id, instance: agent.instance,
                action: .mediaRemove(.init(days: 7 + index, dryRun: true)), reason: "in flight \(index)",
                requestedBy: signer.keyID, issuedAt: now, expiresAt: now.addingTimeInterval(600))
            let body = try JSONCodable.encode(
                OperatorAPI.ProposalRequest(
                    command: try signer.seal(command, as: .command), preview: nil, incidentId: nil))
            for _ in 0..<100 {
                _ = await Self.answer(operatorClient, base + "/v1/remediations", body)
                if try await reader.remediation(id: command.id) != nil { return command.id }
                try await Task.sleep(for: .milliseconds(200))
            }
            throw FixtureError("the proposal of \(command.id) was never stored")
        }
        func state(_ id: String) async throws -> String {
            try await reader.remediation(id: id)?.remediation.state ?? "missing"
        }

        var before: [String] = []
        for index in 0..<6 {
            before.append(try await propose(index))
            try await Task.sleep(for: .milliseconds(300))
        }
        // Just after a proposal: the poll it wakes is being answered, on either replica.
        let inFlight = try await propose(6)
        replicas.kill(0)
        var after: [String] = []
        for index in 7..<13 {
            after.append(try await propose(index))
            try await Task.sleep(for: .milliseconds(300))
        }
        try replicas.start(0)
        after.append(try await propose(13))

        let all = before + [inFlight] + after
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let missing = try await all.asyncFilter { try await state($0) == "approved" }
            if missing.isEmpty, after.allSatisfy({ received.withLock { $0 }[$0] != nil }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        poller.cancel()
        let counts = received.withLock { $0 }
        // Nothing handed out twice, nothing handed out that was not proposed.
        #expect(counts.values.allSatisfy { $0 == 1 }, "\(counts)")
        #expect(Set(counts.keys).isSubset(of: Set(all)))
        // Every command proposed after the kill reached the agent.
        for id in after {
            let state = try await state(id)
            #expect(counts[id] == 1, "\(id): \(state)")
        }
        // Only a command being handed out when the replica died may be lost; it stays `dispatched`.
        let lost = all.filter { counts[$0] == nil }
        #expect(lost.count <= 1, "\(lost)")
        for id in all {
            let state = try await state(id)
            #expect(lost.contains(id) ? state == "dispatched" : state != "approved", "\(id): \(state)")
        }
    }
}

extension Array {
    fileprivate func asyncFilter(_ keep: (Element) async throws -> Bool) async rethrows -> [Element] {
        var out: [Element] = []
        for element in self where try await keep(element) { out.append(element) }
        return out
    }
}
