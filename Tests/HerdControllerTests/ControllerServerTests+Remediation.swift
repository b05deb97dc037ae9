import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing
import X509

extension ControllerServerTests {
    /// The remediation endpoints refuse bad input with its code and keep nothing of it; the long-poll
    /// answers empty when its wait runs out.
    @Test func remediationEndpointsRefuseBadInputAndStoreNothing() async throws {
        try await Self.withController { running in
            let agent = try await Self.enroll(running, instance: "social.example")
            let agentClient = try running.client(identity: (agent.certificatePEM, agent.keyPEM))
            let operatorClient = try running.client(identity: try running.operatorIdentity)
            let stranger = MessageSigner(privateKey: Curve25519.Signing.PrivateKey())
            let command = Command(
                id: UUID().uuidString.lowercased(), agentID: agent.id, instance: agent.instance,
                action: .restartService(.web), reason: "r", requestedBy: stranger.keyID, issuedAt: Date(),
                expiresAt: Date().addingTimeInterval(300))
            let strangers = try JSONCodable.encode(
                OperatorAPI.ProposalRequest(
                    command: try stranger.seal(command, as: .command), preview: nil, incidentId: nil))
            let remediations = running.url + "/v1/remediations"
            for (client, body, status, code) in [
                (operatorClient, Array("\u{0}garbage".utf8), 400, "malformed"),
                (
                    operatorClient, Array(#"{"command":{"payload":"%%%","payloadType":"x","signatures":[]}}"#.utf8),
                    400, "malformed"
                ),
                (operatorClient, [UInt8](repeating: 0x61, count: Limits.maxEnvelopeBytes + 1), 413, "too_large"),
                (operatorClient, Array(strangers), 401, "bad_signature"),
                (agentClient, Array(strangers), 403, "forbidden"),
            ] {
                let answer = try await Self.call(client, .POST, remediations, body: body)
                #expect(answer.status == status && answer.errorCode == code, "\(answer.text)")
            }
            let approval = WireCoding.encode(
                Approval(
                    commandID: command.id,
                    signature: try stranger.signature(payloadType: .command, payload: Array("x".utf8))))
            for (path, body, status, code) in [
                ("/v1/remediations/\(command.id)/approve", Array("[]".utf8), 400, "malformed"),
                ("/v1/remediations/\(command.id)/approve", approval, 403, "identity_mismatch"),
                ("/v1/remediations/not-a-uuid/approve", approval, 404, "not_found"),
                ("/v1/remediations/\(command.id)/deny", Array(#"{"reason":"no"}"#.utf8), 404, "not_found"),
                ("/v1/remediations/freeze", Array(#"{"reason":"two\nlines"}"#.utf8), 422, "invalid_field"),
            ] {
                let answer = try await Self.call(operatorClient, .POST, running.url + path, body: body)
                #expect(answer.status == status && answer.errorCode == code, "\(path): \(answer.text)")
            }
            for query in ["?wait=61", "?wait=-1", "?wait=soon"] {
                let answer = try await Self.call(agentClient, .GET, running.url + "/v1/commands" + query)
                #expect(answer.status == 422 && answer.errorCode == "invalid_field", "\(query): \(answer.text)")
            }
            #expect(try await Self.call(operatorClient, .GET, running.url + "/v1/commands").status == 403)
            #expect(try await Self.call(operatorClient, .GET, running.url + "/v1/audit?limit=0").status == 422)
            let waited = ContinuousClock.now
            let empty = try await Self.call(agentClient, .GET, running.url + "/v1/commands?wait=1")
            #expect(try WireCoding.decode(CommandBatch.self, from: empty.body).commands.isEmpty)
            #expect(ContinuousClock.now - waited >= .milliseconds(900))

            // Results: opened like reports — another key's signature, an older sequence, garbage.
            _ = try await Self.call(
                agentClient, .POST, running.url + "/v1/reports", body: try agent.sealed(agent.report(sequence: 5)))
            func result(_ sequence: UInt64, by signer: MessageSigner) throws -> [UInt8] {
                WireCoding.encode(
                    try signer.seal(
                        CommandResult(
                            commandID: command.id, agentID: agent.id, instance: agent.instance, sequence: sequence,
                            sentAt: Date(), outcome: .refused, refusal: .insufficientApprovals, detail: "no"),
                        as: .commandResult))
            }
            let results = running.url + "/v1/command-results"
            for (body, status, code) in [
                (Array("{".utf8), 400, "malformed"), (try result(6, by: stranger), 401, "bad_signature"),
                (try result(3, by: agent.signer), 409, "replayed_sequence"),
                (
                    WireCoding.encode(try agent.signer.seal(agent.report(sequence: 6), as: .report)), 400,
                    "unsupported_version"
                ),
            ] {
                let answer = try await Self.call(agentClient, .POST, results, body: body)
                #expect(answer.status == status && answer.errorCode == code, "\(answer.text)")
            }
            #expect(
                try await Self.call(operatorClient, .POST, results, body: try result(6, by: agent.signer)).status == 403
            )
            // A result for a command this controller never issued: acknowledged, audited, applied to nothing.
            let unknown = try await Self.call(agentClient, .POST, results, body: try result(6, by: agent.signer))
            #expect(try WireCoding.decode(IngestResponse.self, from: unknown.body).acknowledgedSequence == 6)
            #expect(try await running.controller.store.remediations(openOnly: false).remediations.isEmpty)
            let audit = try await running.controller.store.auditEntries(after: 0, limit: 10).map(\.action)
            #expect(audit == ["remediation.result-unknown"])
        }
    }
}
