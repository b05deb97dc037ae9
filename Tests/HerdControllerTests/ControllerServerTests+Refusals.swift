import AsyncHTTPClient
import Crypto
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import NIOHTTP1
import Testing
import X509

/// Refusals an outsider's client meets, each with its documented code and a JSON body.
extension ControllerServerTests {
    /// A CSR with an RSA key, or text that is no CSR, is the client's error (422 `invalid_field`
    /// naming `csr_pem`), never a 500; and the refusal does not spend the token.
    @Test(arguments: [true, false]) func aBadCSRIsRefusedAsTheClientsAndKeepsTheToken(autoAccept: Bool) async throws {
        // Both kinds of token: one that issues the certificate at once, and one that waits for an
        // operator (the CSR is still checked now, before the token is spent).
        let instance = autoAccept ? "auto.example" : "manual.example"
        try await Self.withController { running in
            let operatorClient = try running.client(identity: try running.operatorIdentity)
            let tokenAnswer = try await Self.call(
                operatorClient, .POST, running.url + "/v1/tokens",
                body: Array(#"{"instance":"\#(instance)","ttl_seconds":3600,"auto_accept":\#(autoAccept)}"#.utf8))
            let token = try JSONCodable.decode(OperatorAPI.Token.self, from: Data(tokenAnswer.body))
            let directory = try TemporaryDirectory("herd-rsa-csr")
            defer { directory.remove() }
            _ = try runExecutable(
                "/usr/bin/openssl",
                [
                    "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=\(instance)", "-keyout",
                    directory.file("key.pem"), "-out", directory.file("csr.pem"),
                ])
            let rsaCSR = try String(contentsOfFile: directory.file("csr.pem"), encoding: .utf8)
            #expect(rsaCSR.contains("BEGIN CERTIFICATE REQUEST"))

            let signingKey = Curve25519.Signing.PrivateKey()
            let signer = MessageSigner(privateKey: signingKey)
            func enroll(_ csrPEM: String) async throws -> Answer {
                let request = EnrollRequest(
                    token: token.token, instance: instance, agentVersion: "0.1.0",
                    signingPublicKey: Base64.encode(signingKey.publicKey.rawRepresentation), csrPEM: csrPEM,
                    host: HostFacts(hostname: "h"), sentAt: Date())
                return try await Self.call(
                    try running.client(), .POST, running.url + "/v1/enroll",
                    body: WireCoding.encode(try signer.seal(request, as: .enrollRequest)))
            }
            // (Text that is not even PEM is refused by the message's own validation, before the CA.)
            let notACSR = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
            for (name, pem) in [("an RSA key", rsaCSR), ("not a CSR", notACSR)] {
                let answer = try await enroll(pem)
                #expect(answer.status == 422 && answer.text.contains("invalid_field"), "\(name): \(answer.text)")
                #expect(answer.text.contains("csr_pem"), "\(name): \(answer.text)")
            }
            let tlsKey = P256.Signing.PrivateKey()
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(instance) },
                privateKey: .init(tlsKey), attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
            let good = try await enroll(try csr.serializeAsPEM().pemString)
            #expect(good.status == 200, "\(good.text)")
            #expect(good.text.contains(autoAccept ? "\"accepted\"" : "\"pending\""), "\(good.text)")
        }
    }

    /// Every answer has a JSON body, also for a path or a method no route takes; and a value echoed from
    /// the request reaches the message with its control characters escaped, never raw.
    @Test func unknownEndpointsAnswerJSONAndEchoedValuesAreEscaped() async throws {
        try await Self.withController { running in
            let agent = try await Self.enroll(running, instance: "echo.example")
            let client = try running.client(identity: (agent.certificatePEM, agent.keyPEM))
            for (method, path) in [(HTTPMethod.GET, "/v1/nothing"), (.DELETE, "/v1/reports"), (.GET, "/")] {
                let answer = try await Self.call(client, method, running.url + path)
                #expect(answer.status == 404 && answer.errorCode == "not_found", "\(method) \(path): \(answer.text)")
            }
            let signature =
                #"{"keyid":"\#(String(repeating: "ab", count: 32))","sig":"\#(String(repeating: "A", count: 86))=="}"#
            let envelope = #"{"payloadType":"a\nb\u001b[31m","payload":"e30=","signatures":[\#(signature)]}"#
            let answer = try await Self.call(client, .POST, running.url + "/v1/reports", body: Array(envelope.utf8))
            let error = try WireCoding.decode(ErrorResponse.self, from: answer.body).error
            #expect(answer.status == 400, "\(answer.text)")
            #expect(!error.message.contains("\n") && !error.message.contains("\u{1b}"), "\(error.message)")
            #expect(error.message.contains("a\\nb\\u{1b}[31m"), "\(error.message)")
        }
    }

    /// An operator request that is not the JSON it should be is `malformed`, and the message says where
    /// the decoder stopped — not only that something failed.
    @Test func aMalformedOperatorRequestSaysWhereItIsWrong() async throws {
        try await Self.withController { running in
            let client = try running.client(identity: try running.operatorIdentity)
            for (path, body, words) in [
                ("/v1/tokens", #"{"instance":"a.example","ttl_seconds":"soon"}"#, "ttl_seconds: expected"),
                ("/v1/tokens", #"{"ttl_seconds":600}"#, "instance: missing"),
                ("/v1/silences", #"{"scope":"instance","value":"a.example","reason":"x","ends_at":null}"#, "ends_at"),
                ("/v1/tokens", "\u{0}\u{7}garbage", "not JSON"),
            ] {
                let answer = try await Self.call(client, .POST, running.url + path, body: Array(body.utf8))
                let error = try WireCoding.decode(ErrorResponse.self, from: answer.body).error
                #expect(answer.status == 400 && error.code == .malformed, "\(path): \(answer.text)")
                #expect(error.message.contains(words), "\(path): \(error.message)")
            }
        }
    }

    /// Every route of the operator API, as Controller/README.md's table lists it, exists and refuses an
    /// agent's certificate with `forbidden` before anything else — the gate is one middleware, and this
    /// keeps the table and the router in step.
    @Test func everyOperatorRouteRefusesAnAgentAndExists() async throws {
        let readme = try String(contentsOfFile: RepositoryPaths.path("Controller/README.md"), encoding: .utf8)
        let routes: [(HTTPMethod, String)] = readme.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("| `GET /v1/") || line.hasPrefix("| `POST /v1/") else { return nil }
            let route = line.split(separator: "`")[1].split(separator: " ")
            let path = route[1].prefix { $0 != "[" }
                .replacingOccurrences(of: "DOMAIN", with: "social.example")
                .replacingOccurrences(of: "/ID", with: "/1")
            return (route[0] == "GET" ? .GET : .POST, path)
        }
        #expect(routes.count >= 24, "\(routes)")
        try await Self.withController { running in
            let agent = try await Self.enroll(running, instance: "social.example")
            let agentClient = try running.client(identity: (agent.certificatePEM, agent.keyPEM))
            let operatorClient = try running.client(identity: try running.operatorIdentity)
            for (method, path) in routes {
                let refused = try await Self.call(agentClient, method, running.url + path, body: Array("{}".utf8))
                #expect(refused.status == 403 && refused.errorCode == "forbidden", "\(path): \(refused.text)")
                let served = try await Self.call(operatorClient, method, running.url + path, body: Array("{}".utf8))
                #expect(served.status != 403 && !served.text.contains("no endpoint"), "\(path): \(served.text)")
            }
        }
    }
}
