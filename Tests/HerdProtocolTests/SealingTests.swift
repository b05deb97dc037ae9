import Crypto
import HerdProtocol
import HerdTestSupport
import Testing

@Suite struct SealingTests {
    static let report = try! WireCoding.decode(
        Report.self, from: RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/report.json")))

    @Test func sealThenVerifyRoundTripsTheExactBytes() throws {
        let signer = MessageSigner(privateKey: Curve25519.Signing.PrivateKey())
        var report = Self.report
        // The wire carries milliseconds.
        report.sentAt = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded() / 1000)
        let envelope = try signer.seal(report, as: .report)
        let wire = WireCoding.encode(envelope)
        let verified = try AgentMessageVerifier().verify(
            Report.self, envelopeBytes: wire, from: AgentIdentity(id: report.agentID, signingKey: signer.publicKey),
            lastAcceptedSequence: nil, now: Date())
        #expect(verified.message == report)
        #expect(verified.payload == envelope.payload)
        #expect(verified.decision == .new)
    }

    @Test func sealRefusesToSignAnInvalidMessage() {
        let signer = MessageSigner(privateKey: Curve25519.Signing.PrivateKey())
        var report = Self.report
        report.instance = "NOT A DOMAIN"
        #expect(throws: WireError.self) { try signer.seal(report, as: .report) }
    }

    @Test func everyByteOfThePayloadIsCovered() throws {
        let signer = MessageSigner(privateKey: Curve25519.Signing.PrivateKey())
        let envelope = try signer.seal(Self.report, as: .report)
        for index in stride(from: 0, to: envelope.payload.count, by: 7) {
            var tampered = envelope
            tampered.payload[index] ^= 0x20
            #expect(EnvelopeVerifier.validSigners(of: tampered, trusted: [signer.keyID: signer.publicKey]).isEmpty)
        }
    }

    @Test func replayPolicyWindows() throws {
        let policy = ReplayPolicy(maxClockSkew: .seconds(60))
        let now = Date()
        #expect(try policy.check(sequence: 5, sentAt: now, lastAccepted: 4, now: now) == .new)
        #expect(try policy.check(sequence: 9, sentAt: now, lastAccepted: 4, now: now) == .new)
        #expect(try policy.check(sequence: 4, sentAt: now, lastAccepted: 4, now: now) == .retryOfLastAccepted)
        do throws(WireError) {
            _ = try policy.check(sequence: 3, sentAt: now, lastAccepted: 4, now: now)
            Issue.record("accepted an old sequence")
        } catch {
            #expect(error.code == .replayedSequence)
            #expect(error.lastAcceptedSequence == 4)
        }
        do throws(WireError) {
            _ = try policy.check(sequence: 5, sentAt: now.addingTimeInterval(61), lastAccepted: 4, now: now)
            Issue.record("accepted a skewed clock")
        } catch {
            #expect(error.code == .clockSkew)
            #expect(error.serverTime == now)
        }
    }

    @Test func keyIDIsSHA256OfTheRawPublicKey() throws {
        let raw = Array(hexBytes: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let key = try Curve25519.Signing.PublicKey(rawRepresentation: raw)
        #expect(KeyID(publicKey: key).rawValue == "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9")
    }

    @Test func base64AcceptsBothAlphabetsAndRejectsJunk() {
        #expect(Base64.decode("+/+/") == [0xFB, 0xFF, 0xBF])
        #expect(Base64.decode("-_-_") == [0xFB, 0xFF, 0xBF])
        #expect(Base64.decode("AQ") == [0x01])
        #expect(Base64.decode("AQ==") == [0x01])
        #expect(Base64.decode("A Q==") == nil)
        #expect(Base64.decode("A") == nil)
        #expect(Base64.decode("*") == nil)
        #expect(Base64.decode("AQ=") == nil)
        #expect(Base64.decode("AQ===") == nil)
        #expect(Base64.decode("A=Q=") == nil)
        #expect(Base64.decode("") == [])
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let standard = Base64.encode(bytes)
            #expect(Base64.decode(standard) == bytes)
            let urlSafe = standard.replacing("+", with: "-").replacing("/", with: "_").replacing("=", with: "")
            #expect(Base64.decode(urlSafe) == bytes)
        }
    }
}
