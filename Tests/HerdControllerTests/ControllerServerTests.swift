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

/// A real controller over mutual TLS on 127.0.0.1, spoken to by real TLS clients: enrollment,
/// ingest, the operator API, and every refusal of Protocol/README.md §3 — each with its code and
/// nothing stored.
@Suite(.serialized) struct ControllerServerTests {
    /// A controller made by `init` in a temp dir, serving on a free port until `stop`.
    final class Running: @unchecked Sendable {
        let root: TemporaryDirectory
        let configuration: ControllerConfiguration
        let controller: Controller
        let port: Int
        let task: Task<Void, any Error>
        let caPEM: String
        var url: String { "https://127.0.0.1:\(port)" }
        var herdctl: String { root.file("herdctl") }

        /// herdctl's configuration from init, pointed at the port this controller took: its path.
        func herdctlConfig() throws -> String {
            let config = herdctl + "/config"
            let written = try String(contentsOfFile: config, encoding: .utf8)
            try written.replacingOccurrences(of: "https://localhost:8443", with: "https://localhost:\(port)")
                .write(toFile: config, atomically: true, encoding: .utf8)
            #expect(chmod(config, 0o600) == 0)
            return config
        }

        /// `settings`: controller.conf lines added to what init wrote.
        init(settings: [String] = []) async throws {
            root = try TemporaryDirectory("herd-controller")
            var command = try HerdControllerCommand.parseAsRoot([
                "init", "--data-dir", root.file("data"), "--herdctl-dir", root.file("herdctl"),
            ])
            if var async = command as? any AsyncParsableCommand { try await async.run() } else { try command.run() }
            if !settings.isEmpty {
                let file = root.file("data/controller.conf")
                let text = try String(contentsOfFile: file, encoding: .utf8)
                try (text + settings.joined(separator: "\n") + "\n").write(
                    toFile: file, atomically: true, encoding: .utf8)
            }
            configuration = try ControllerConfiguration.load(dataDirectory: root.file("data"))
            var logger = Logger(label: "test-controller")
            logger.logLevel = .critical
            let (controller, tls) = try ControllerServer.load(configuration, logger: logger)
            self.controller = controller
            caPEM = try SecureFile.readText(configuration.caCertificateFile)
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = try ControllerServer.application(controller, tls: tls, host: "127.0.0.1", port: 0) { port in
                continuation.yield(port)
            }
            task = Task { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            port = await iterator.next() ?? 0
        }

        private let clients = NIOLockedValueBox<[HTTPClient]>([])

        func stop() async {
            for client in clients.withLockedValue({ $0 }) { try? await client.shutdown() }
            task.cancel()
            _ = await task.result
            try? controller.store.close()
            root.remove()
        }

        /// A TLS client trusting only the fleet CA, presenting `identity` (certificate PEM, key PEM) if any.
        func client(identity: (String, String)? = nil, trust: String? = nil) throws -> HTTPClient {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = .tlsv12
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array((trust ?? caPEM).utf8)))
            if let (certificate, key) = identity {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map {
                    .certificate($0)
                }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))
            }
            var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
            configuration.connectionPool.retryConnectionEstablishment = false
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
            clients.withLockedValue { $0.append(client) }
            return client
        }

        var operatorIdentity: (String, String) {
            get throws {
                (
                    try SecureFile.readText(herdctl + "/certificate.pem"),
                    try SecureFile.readText(herdctl + "/tls-key.pem")
                )
            }
        }
    }

    struct Answer {
        var status: Int
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var errorCode: String? { (try? WireCoding.decode(ErrorResponse.self, from: body))?.error.code.rawValue }
    }

    static func call(_ client: HTTPClient, _ method: HTTPMethod, _ url: String, body: [UInt8]? = nil) async throws
        -> Answer
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        return Answer(status: Int(response.status.code), body: Array(bytes.readableBytesView))
    }

    /// An agent of `instance`, enrolled with a token from the operator API.
    struct EnrolledAgent {
        var id: String
        var signer: MessageSigner
        var certificatePEM: String
        var keyPEM: String
        var instance: String

        func report(sequence: UInt64, sentAt: Date = Date(), agentID: String? = nil) -> Report {
            Report(
                agentID: agentID ?? id, instance: instance, sequence: sequence, collectedAt: sentAt, sentAt: sentAt,
                agentVersion: "0.1.0", intervalSeconds: 60, host: HostFacts(hostname: "masto-1"),
                results: [CheckResult(checkID: "disk", status: .ok, summary: "fine", durationMilliseconds: 2)])
        }

        func sealed(_ report: Report, by signer: MessageSigner? = nil) throws -> [UInt8] {
            WireCoding.encode(try (signer ?? self.signer).seal(report, as: .report))
        }
    }

    static func withController(_ body: (Running) async throws -> Void) async throws {
        let running = try await Running()
        do {
            try await body(running)
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }

    static func enroll(_ running: Running, instance: String) async throws -> EnrolledAgent {
        let operatorClient = try running.client(identity: try running.operatorIdentity)
        let tokenAnswer = try await call(
            operatorClient, .POST, running.url + "/v1/tokens",
            body: Array(#"{"instance":"\#(instance)","ttl_seconds":3600}"#.utf8))
        #expect(tokenAnswer.status == 200, "\(tokenAnswer.text)")
        let token = try JSONCodable.decode(OperatorAPI.Token.self, from: Data(tokenAnswer.body))
        #expect(token.caFingerprint == running.controller.ca.fingerprint)

        let signingKey = Curve25519.Signing.PrivateKey()
        let tlsKey = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(instance) }, privateKey: .init(tlsKey),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        let request = EnrollRequest(
            token: token.token, instance: instance, agentVersion: "0.1.0",
            signingPublicKey: Base64.encode(signingKey.publicKey.rawRepresentation),
            csrPEM: try csr.serializeAsPEM().pemString, host: HostFacts(hostname: "masto-1"), sentAt: Date())
        let signer = MessageSigner(privateKey: signingKey)
        let anonymous = try running.client()
        let answer = try await call(
            anonymous, .POST, running.url + "/v1/enroll",
            body: WireCoding.encode(try signer.seal(request, as: .enrollRequest)))
        #expect(answer.status == 200, "\(answer.text)")
        let response = try WireCoding.decode(EnrollResponse.self, from: answer.body)
        #expect(response.state == .accepted)
        #expect(response.signingKeyID == signer.keyID)
        return EnrolledAgent(
            id: response.agentID, signer: signer, certificatePEM: try #require(response.certificatePEM),
            keyPEM: tlsKey.pemRepresentation, instance: instance)
    }

    @Test func enrollReportAndSeeTheFleet() async throws {
        try await Self.withController { running in
            let agent = try await Self.enroll(running, instance: "social.example")
            let agentClient = try running.client(identity: (agent.certificatePEM, agent.keyPEM))

            let first = try await Self.call(
                agentClient, .POST, running.url + "/v1/reports", body: try agent.sealed(agent.report(sequence: 1)))
            #expect(first.status == 200, "\(first.text)")
            let ack = try WireCoding.decode(IngestResponse.self, from: first.body)
            #expect(ack.acknowledgedSequence == 1 && !ack.duplicate)
            // The same report again: acknowledged, not stored twice.
            let retry = try await Self.call(
                agentClient, .POST, running.url + "/v1/reports", body: try agent.sealed(agent.report(sequence: 1)))
            #expect(try WireCoding.decode(IngestResponse.self, from: retry.body).duplicate)
            #expect(try await running.controller.store.count(.history) == 1)

            let operatorClient = try running.client(identity: try running.operatorIdentity)
            let fleet = try await Self.call(operatorClient, .GET, running.url + "/v1/fleet")
            #expect(fleet.status == 200)
            let rows = try WireCoding.decode(OperatorAPI.Fleet.self, from: fleet.body).instances
            #expect(rows.map(\.instance) == ["social.example"])
            #expect(rows.first?.state == "ok")
            // `state` keeps some rows; `counts` is always the whole fleet's.
            let critical = try await Self.call(operatorClient, .GET, running.url + "/v1/fleet?state=critical,silent")
            let kept = try WireCoding.decode(OperatorAPI.Fleet.self, from: critical.body)
            #expect(kept.instances.isEmpty && kept.counts == ["ok": 1])
            for bad in ["bogus", "", "ok,,critical", "OK"] {
                let refused = try await Self.call(operatorClient, .GET, running.url + "/v1/fleet?state=" + bad)
                #expect(refused.status == 422 && refused.text.contains("invalid_field"), "\(bad): \(refused.text)")
            }
            let detail = try await Self.call(operatorClient, .GET, running.url + "/v1/instances/social.example")
            let checks = try JSONCodable.decode(OperatorAPI.InstanceDetail.self, from: Data(detail.body)).checks
            #expect(checks.map(\.checkId) == ["disk"])
            #expect(checks.first?.hours.last == "o")

            // Operators' bodies are checked like agents': garbage, a bad scope, a huge body, an agent's
            // certificate — each refused with its code, and nothing recorded.
            let silences = running.url + "/v1/silences"
            for (body, status, code) in [
                (Array("\u{0}\u{1}not json".utf8), 400, "malformed"),
                (
                    Array(#"{"scope":"planet","value":"x","ends_at":"2096-10-02T07:06:40Z","reason":"r"}"#.utf8), 422,
                    "invalid_field"
                ),
                // An instant is an RFC 3339 string; epoch seconds are not read as one.
                (Array(#"{"scope":"check","value":"disk","ends_at":4e9,"reason":"r"}"#.utf8), 400, "malformed"),
                (
                    Array(
                        #"{"scope":"instance","value":"social.example","ends_at":"1970-01-01T00:00:01Z","reason":"r"}"#
                            .utf8),
                    422,
                    "invalid_field"
                ),
                ([UInt8](repeating: UInt8(ascii: "a"), count: Limits.maxEnvelopeBytes + 1), 413, "too_large"),
            ] {
                let answer = try await Self.call(operatorClient, .POST, silences, body: body)
                #expect(answer.status == status && answer.errorCode == code, "\(answer.text)")
            }
            let asAgent = try await Self.call(
                agentClient, .POST, silences,
                body: Array(#"{"scope":"check","value":"disk","ends_at":"2096-10-02T07:06:40Z","reason":"r"}"#.utf8))
            #expect(asAgent.status == 403 && asAgent.errorCode == "forbidden")
            #expect(try await running.controller.store.silences(includeEnded: true).isEmpty)
        }
    }

    @Test func everyRefusalHasItsCodeAndStoresNothing() async throws {
        try await Self.withController { running in
            let a = try await Self.enroll(running, instance: "a.example")
            let b = try await Self.enroll(running, instance: "b.example")
            let clientA = try running.client(identity: (a.certificatePEM, a.keyPEM))
            let reports = running.url + "/v1/reports"
            _ = try await Self.call(clientA, .POST, reports, body: try a.sealed(a.report(sequence: 5)))
            let stored = try await running.controller.store.count(.history)

            var cases: [(String, Answer, Int, String)] = []
            let anonymous = try running.client()
            cases.append(
                (
                    "no client certificate",
                    try await Self.call(anonymous, .POST, reports, body: try a.sealed(a.report(sequence: 6))), 403,
                    "forbidden"
                ))
            let stranger = MessageSigner(privateKey: Curve25519.Signing.PrivateKey())
            cases.append(
                (
                    "bad signature",
                    try await Self.call(
                        clientA, .POST, reports, body: try a.sealed(a.report(sequence: 6), by: stranger)), 401,
                    "bad_signature"
                ))
            cases.append(
                (
                    "replayed sequence",
                    try await Self.call(clientA, .POST, reports, body: try a.sealed(a.report(sequence: 4))), 409,
                    "replayed_sequence"
                ))
            cases.append(
                (
                    "clock skew",
                    try await Self.call(
                        clientA, .POST, reports,
                        body: try a.sealed(a.report(sequence: 6, sentAt: Date().addingTimeInterval(-3600)))), 400,
                    "clock_skew"
                ))
            cases.append(
                (
                    "B's report with A's certificate",
                    try await Self.call(clientA, .POST, reports, body: try a.sealed(b.report(sequence: 6))), 403,
                    "identity_mismatch"
                ))
            cases.append(
                (
                    "malformed JSON", try await Self.call(clientA, .POST, reports, body: Array("{\"payload\": ".utf8)),
                    400, "malformed"
                ))
            cases.append(
                (
                    "binary garbage", try await Self.call(clientA, .POST, reports, body: [0xFF, 0x00, 0xC3, 0x28]), 400,
                    "malformed"
                ))
            cases.append(
                (
                    "oversize",
                    try await Self.call(clientA, .POST, reports, body: Array(repeating: 0x20, count: (1 << 20) + 1)),
                    413, "too_large"
                ))
            cases.append(
                (
                    "operator API with an agent certificate",
                    try await Self.call(clientA, .GET, running.url + "/v1/fleet"), 403, "forbidden"
                ))
            let operatorClient = try running.client(identity: try running.operatorIdentity)
            cases.append(
                (
                    "a report from an operator",
                    try await Self.call(operatorClient, .POST, reports, body: try a.sealed(a.report(sequence: 6))), 403,
                    "forbidden"
                ))
            cases.append(
                (
                    "a bad token request",
                    try await Self.call(
                        operatorClient, .POST, running.url + "/v1/tokens",
                        body: Array(#"{"instance":"Not A Domain","ttl_seconds":60}"#.utf8)), 422, "invalid_field"
                ))
            for (name, answer, status, code) in cases {
                #expect(answer.status == status, "\(name): \(answer.text)")
                #expect(answer.errorCode == code, "\(name): \(answer.text)")
            }
            #expect(try await running.controller.store.count(.history) == stored)

            // Revoked: every later request with that certificate fails.
            let revoke = try await Self.call(operatorClient, .POST, running.url + "/v1/agents/\(a.id)/revoke")
            #expect(revoke.status == 200)
            let afterRevoke = try await Self.call(clientA, .POST, reports, body: try a.sealed(a.report(sequence: 7)))
            #expect(afterRevoke.status == 403 && afterRevoke.errorCode == "revoked")
            #expect(try await running.controller.store.count(.history) == stored)
        }
    }

    /// A token without auto-accept: the enrollment waits, the same request again says so, an operator
    /// accepts it, and the next identical request returns the certificate.
    @Test func pendingEnrollmentsWaitForAnOperator() async throws {
        try await Self.withController { running in
            let operatorClient = try running.client(identity: try running.operatorIdentity)
            let tokenAnswer = try await Self.call(
                operatorClient, .POST, running.url + "/v1/tokens",
                body: Array(#"{"instance":"slow.example","ttl_seconds":3600,"auto_accept":false}"#.utf8))
            let token = try JSONCodable.decode(OperatorAPI.Token.self, from: Data(tokenAnswer.body))
            #expect(!token.autoAccept)
            let signingKey = Curve25519.Signing.PrivateKey()
            let tlsKey = P256.Signing.PrivateKey()
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName("x") }, privateKey: .init(tlsKey),
                attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
            let signer = MessageSigner(privateKey: signingKey)
            let envelope = WireCoding.encode(
                try signer.seal(
                    EnrollRequest(
                        token: token.token, instance: "slow.example", agentVersion: "0.1.0",
                        signingPublicKey: Base64.encode(signingKey.publicKey.rawRepresentation),
                        csrPEM: try csr.serializeAsPEM().pemString, host: HostFacts(hostname: "h"), sentAt: Date()),
                    as: .enrollRequest))
            let anonymous = try running.client()
            let first = try WireCoding.decode(
                EnrollResponse.self,
                from: try await Self.call(anonymous, .POST, running.url + "/v1/enroll", body: envelope).body)
            #expect(first.state == .pending && first.certificatePEM == nil)
            let pending = try await Self.call(operatorClient, .GET, running.url + "/v1/agents?state=pending")
            let rows = try JSONCodable.decode(OperatorAPI.Agents.self, from: Data(pending.body)).agents
            #expect(rows.map(\.id) == [first.agentID])
            #expect(rows.first?.signingKeyId == signer.keyID.rawValue)
            let accepted = try await Self.call(
                operatorClient, .POST, running.url + "/v1/agents/\(first.agentID)/accept")
            #expect(accepted.status == 200)
            let again = try WireCoding.decode(
                EnrollResponse.self,
                from: try await Self.call(anonymous, .POST, running.url + "/v1/enroll", body: envelope).body)
            #expect(again.state == .accepted && again.certificatePEM != nil)
            // Accepting twice, or an agent that does not exist: refused.
            #expect(
                try await Self.call(operatorClient, .POST, running.url + "/v1/agents/\(first.agentID)/accept").status
                    == 422)
            #expect(
                try await Self.call(operatorClient, .POST, running.url + "/v1/agents/nosuchagent/accept").status == 404)
        }
    }

    @Test func aCertificateFromAnotherCAIsRefusedAtTheHandshake() async throws {
        try await Self.withController { running in
            let other = try FleetCA.create(commonName: "Somebody else's CA")
            let key = P256.Signing.PrivateKey()
            let certificate = try other.issueClient(publicKey: key.publicKey, commonName: "intruder")
            let client = try running.client(
                identity: (try certificate.serializeAsPEM().pemString, key.pemRepresentation))
            do {
                let answer = try await Self.call(client, .GET, running.url + "/v1/fleet")
                Issue.record("answered \(answer.status) to a foreign certificate")
            } catch {
                // Under TLS 1.3 the refusal surfaces on the first read, as BoringSSLError or NIOSSLError.
                #expect(error is NIOSSLError || error is BoringSSLError || "\(error)".contains("SSL"), "\(error)")
            }
        }
    }
}
