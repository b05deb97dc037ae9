import Crypto
import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

/// Runs Protocol/vectors/signing.json the way an implementation in another language would: from the
/// file alone. A separate test proves the file is exactly what the generator produces.
@Suite struct SigningVectorTests {
    static let file: SigningVectorFile = {
        let bytes = try! RepositoryPaths.read(RepositoryPaths.path("Protocol/vectors/signing.json"))
        return try! JSONDecoder().decode(SigningVectorFile.self, from: Data(bytes))
    }()

    static func publicKey(_ name: String) throws -> Curve25519.Signing.PublicKey {
        let key = try #require(file.keys[name], "no key \(name)")
        let raw = try #require(Base64.decode(key.publicKeyBase64))
        let publicKey = try Curve25519.Signing.PublicKey(rawRepresentation: raw)
        #expect(KeyID(publicKey: publicKey).rawValue == key.keyID, "key id of \(name)")
        return publicKey
    }

    @Test func committedVectorsAreWhatTheGeneratorProduces() throws {
        let (file, reportEnvelope) = try SigningVectorGenerator.build()
        let vectors = try VectorJSON.pretty(file)
        let problem = try Golden.compare(vectors, toFile: RepositoryPaths.path("Protocol/vectors/signing.json"))
        #expect(problem == nil, "\(problem ?? "")")
        let example = WireCoding.encode(reportEnvelope, pretty: true)
        let exampleProblem = try Golden.compare(
            example, toFile: RepositoryPaths.path("Protocol/examples/envelope-report.json"))
        #expect(exampleProblem == nil, "\(exampleProblem ?? "")")
    }

    @Test func keysDeriveFromTheirSeeds() throws {
        for (name, key) in Self.file.keys {
            let privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: Array(hexBytes: key.seedHex))
            #expect(Base64.encode(privateKey.publicKey.rawRepresentation) == key.publicKeyBase64, "\(name)")
            _ = try Self.publicKey(name)
        }
    }

    @Test func ed25519KnownAnswers() throws {
        for vector in Self.file.ed25519 {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: Array(hexBytes: vector.seedHex))
            #expect(key.publicKey.rawRepresentation == Data(Array(hexBytes: vector.publicKeyHex)))
            let message = Array(hexBytes: vector.messageHex)
            #expect(key.publicKey.isValidSignature(Array(hexBytes: vector.signatureHex), for: message))
            // BoringSSL's Ed25519 is deterministic, as RFC 8032 specifies.
            #expect(Array(try key.signature(for: message)) == Array(hexBytes: vector.signatureHex))
        }
        #expect(Self.file.ed25519.first?.signatureHex.hasPrefix("e5564300c360ac72") == true)
    }

    @Test func preAuthenticationEncoding() {
        #expect(
            SignedEnvelope.preAuthenticationEncoding(
                payloadType: PayloadType(rawValue: "http://example.com/HelloWorld"), payload: Array("hello world".utf8))
                == Array("DSSEv1 29 http://example.com/HelloWorld 11 hello world".utf8))
        for vector in Self.file.pae {
            let pae = SignedEnvelope.preAuthenticationEncoding(
                payloadType: PayloadType(rawValue: vector.payloadType), payload: Array(vector.payloadUTF8.utf8))
            #expect(pae == Array(vector.paeUTF8.utf8))
        }
    }

    @Test(arguments: Self.file.agentMessageCases.map(\.name))
    func agentMessageCase(name: String) throws {
        let vector = try #require(Self.file.agentMessageCases.first { $0.name == name })
        let bytes: [UInt8] =
            if let text = vector.envelopeText { Array(text.utf8) } else { try VectorJSON.bytes(vector.envelope) }
        let agent = AgentIdentity(id: vector.verifier.agentID, signingKey: try Self.publicKey(vector.verifier.key))
        let verifier = AgentMessageVerifier(
            policy: ReplayPolicy(maxClockSkew: .seconds(vector.verifier.maxClockSkewSeconds)))
        let now = try #require(WireTime.parse(vector.verifier.now))
        let last = vector.verifier.lastAcceptedSequence
        let outcome: String
        do throws(WireError) {
            let decision: ReplayPolicy.Decision
            switch vector.payloadKind {
            case "report":
                decision = try verifier.verify(
                    Report.self, envelopeBytes: bytes, from: agent, lastAcceptedSequence: last, now: now
                ).decision
            case "command_result":
                decision = try verifier.verify(
                    CommandResult.self, envelopeBytes: bytes, from: agent, lastAcceptedSequence: last, now: now
                ).decision
            default:
                Issue.record("unknown payload_kind \(vector.payloadKind)")
                return
            }
            outcome = decision == .new ? "accept" : "retry_of_last_accepted"
        } catch {
            outcome = error.code.rawValue
        }
        #expect(outcome == vector.expect, "\(vector.name): \(vector.description)")
    }

    @Test(arguments: Self.file.commandCases.map(\.name))
    func commandCase(name: String) throws {
        let vector = try #require(Self.file.commandCases.first { $0.name == name })
        var trusted: [KeyID: Curve25519.Signing.PublicKey] = [:]
        for keyName in vector.trusted {
            let key = try Self.publicKey(keyName)
            trusted[KeyID(publicKey: key)] = key
        }
        let requester = KeyID(publicKey: try Self.publicKey(vector.requester))
        let envelope = try WireCoding.decode(SignedEnvelope.self, from: VectorJSON.bytes(vector.envelope))
        let expectedCounted = try (vector.counted ?? []).map { KeyID(publicKey: try Self.publicKey($0)) }
        do throws(WireError) {
            let counted = try EnvelopeVerifier.verifyCommand(
                envelope, requester: requester, trusted: trusted, approvals: vector.threshold)
            #expect(vector.expect == "accept", "\(vector.name): \(vector.description)")
            #expect(counted == expectedCounted)
            _ = try WireCoding.decode(Command.self, from: envelope.payload)
        } catch {
            #expect(error.code.rawValue == vector.expect, "\(vector.name): \(vector.description)")
        }
    }
}
