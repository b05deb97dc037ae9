import Crypto
import HerdProtocol
import HerdTestSupport

/// Builds Protocol/vectors/signing.json from fixed seeds. Ed25519 is deterministic (RFC 8032), so the
/// same seeds always give the same file; the golden test fails if the committed file differs.
enum SigningVectorGenerator {
    static let now = WireTime.parse("2026-11-21T18:00:05.000Z")!
    static let agentA = "agt-7f3c2a91"
    static let agentB = "agt-0b1d4e55"
    static let keyNames = ["agent-a", "agent-b", "operator-1", "operator-2", "operator-3"]

    static func seed(_ name: String) -> [UInt8] {
        Array(SHA256.hash(data: Array("herd signing vector key: \(name)".utf8)))
    }

    static func signer(_ name: String) -> MessageSigner {
        MessageSigner(privateKey: try! Curve25519.Signing.PrivateKey(rawRepresentation: seed(name)))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    static func json(_ envelope: SignedEnvelope) throws -> JSONValue {
        try JSONValue.parse(WireCoding.encode(envelope))
    }

    static func text(_ envelope: SignedEnvelope) -> String {
        String(decoding: WireCoding.encode(envelope), as: UTF8.self)
    }

    static func baseReport() throws -> Report {
        var report = try WireCoding.decode(
            Report.self, from: RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/report.json")))
        report.agentID = agentA
        report.sequence = 42
        report.sentAt = now
        return report
    }

    static func build() throws -> (file: SigningVectorFile, reportEnvelope: SignedEnvelope) {
        var keys: [String: SigningVectorFile.Key] = [:]
        for name in keyNames {
            let s = signer(name)
            keys[name] = .init(
                seedHex: hex(seed(name)), publicKeyBase64: Base64.encode(s.publicKey.rawRepresentation),
                keyID: s.keyID.rawValue)
        }
        let a = signer("agent-a")
        let b = signer("agent-b")
        let report = try baseReport()
        let valid = try a.seal(report, as: .report)

        func verifier(last: UInt64? = 41, key: String = "agent-a", agent: String = agentA, now: Date = now)
            -> SigningVectorFile.Verifier
        {
            .init(
                agentID: agent, key: key, lastAcceptedSequence: last, now: WireTime.format(now),
                maxClockSkewSeconds: 300)
        }
        func agentCase(
            _ name: String, _ description: String, _ envelope: SignedEnvelope, _ expect: String,
            verifier v: SigningVectorFile.Verifier? = nil, kind: String = "report"
        ) throws -> SigningVectorFile.AgentCase {
            .init(
                name: name, description: description, payloadKind: kind, verifier: v ?? verifier(),
                envelope: try json(envelope), envelopeText: nil, expect: expect)
        }
        func sealedReport(_ edit: (inout Report) -> Void, by s: MessageSigner = a) throws -> SignedEnvelope {
            var r = report
            edit(&r)
            return try s.seal(r, as: .report)
        }
        func tampered(_ envelope: SignedEnvelope, _ edit: (inout SignedEnvelope) -> Void) -> SignedEnvelope {
            var e = envelope
            edit(&e)
            return e
        }
        func resignedPayload(_ text: String, by s: MessageSigner = a) throws -> SignedEnvelope {
            let payload = Array(text.utf8)
            return SignedEnvelope(
                payload: payload, payloadType: .report,
                signatures: [try s.signature(payloadType: .report, payload: payload)])
        }
        let payloadText = String(decoding: valid.payload, as: UTF8.self)
        let commandResult = try WireCoding.decode(
            CommandResult.self,
            from: RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/command-result-succeeded.json")))
        var result = commandResult
        result.agentID = agentA
        result.sequence = 43
        result.sentAt = now

        var agentCases: [SigningVectorFile.AgentCase] = [
            try agentCase(
                "valid-report", "A report signed by its agent's key, sequence newer than the last.", valid, "accept"),
            try agentCase(
                "first-report", "No sequence accepted yet: any valid sequence is new.", valid, "accept",
                verifier: verifier(last: nil)),
            try agentCase(
                "retry-of-last-accepted", "The same sequence as the last accepted: acknowledge, store nothing.",
                valid, "retry_of_last_accepted", verifier: verifier(last: 42)),
            try agentCase(
                "replayed-sequence", "A sequence older than the last accepted.", valid, "replayed_sequence",
                verifier: verifier(last: 50)),
            try agentCase(
                "wrong-key", "Signed by agent-b's key but naming agent-a.", try sealedReport({ _ in }, by: b),
                "bad_signature"),
            try agentCase(
                "signature-from-another-agent",
                "agent-b's own valid report arriving on agent-a's identity: agent-b's key is not agent-a's.",
                try sealedReport({ $0.agentID = agentB }, by: b), "bad_signature"),
            try agentCase(
                "identity-mismatch", "agent-a's key signs a report that names agent-b.",
                try sealedReport({ $0.agentID = agentB }), "identity_mismatch"),
            try agentCase(
                "flipped-payload-byte", "One payload byte changed after signing (sequence 42 → 43).",
                tampered(valid) { e in
                    let i = e.payload.firstIndex(of: UInt8(ascii: "4"))!
                    e.payload[i] ^= 0x07
                }, "bad_signature"),
            try agentCase(
                "flipped-last-payload-byte", "The payload's last byte changed after signing.",
                tampered(valid) { $0.payload[$0.payload.count - 1] ^= 0x01 }, "bad_signature"),
            try agentCase(
                "flipped-signature-byte", "One signature byte changed.",
                tampered(valid) { $0.signatures[0].signature[10] ^= 0x01 }, "bad_signature"),
            try agentCase(
                "truncated-payload", "The payload cut short, original signature kept.",
                tampered(valid) { $0.payload.removeLast(20) }, "bad_signature"),
            try agentCase(
                "payload-type-swapped", "Declared as a command result: the verifier expects a report.",
                tampered(valid) { $0.payloadType = .commandResult }, "unsupported_version"),
            try agentCase(
                "signed-without-pae", "Signature over the raw payload instead of PAE(type, payload).",
                tampered(valid) { e in
                    let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: seed("agent-a"))
                    e.signatures[0].signature = Array(try! key.signature(for: e.payload))
                }, "bad_signature"),
            try agentCase(
                "no-signatures", "An envelope with an empty signature list.",
                tampered(valid) { $0.signatures = [] }, "invalid_field"),
            try agentCase(
                "clock-skew-future", "sent_at 301 s ahead of the verifier's clock.",
                try sealedReport({ $0.sentAt = now.addingTimeInterval(301) }), "clock_skew"),
            try agentCase(
                "clock-skew-past", "sent_at 301 s behind the verifier's clock.",
                try sealedReport({ $0.sentAt = now.addingTimeInterval(-301) }), "clock_skew"),
            try agentCase(
                "clock-skew-edge", "sent_at exactly 300 s behind: inside the window.",
                try sealedReport({ $0.sentAt = now.addingTimeInterval(-300) }), "accept"),
            try agentCase(
                "unknown-field-ignored", "A newer agent's extra field is ignored (forward compatibility).",
                try resignedPayload(
                    payloadText.replacing("{\"agent_id\"", with: "{\"future_field\":{\"x\":1},\"agent_id\"")),
                "accept"),
            try agentCase(
                "unknown-status", "A status value this version does not know fails, signed or not.",
                try resignedPayload(payloadText.replacing("\"status\":\"warning\"", with: "\"status\":\"maybe\"")),
                "malformed"),
            try agentCase(
                "invalid-field", "A signed report whose instance is not a DNS name.",
                try resignedPayload(payloadText.replacing("social.example.org", with: "Social Example")),
                "invalid_field"),
            try agentCase(
                "valid-command-result", "A command result shares the report's sequence space.",
                try a.seal(result, as: .commandResult), "accept", kind: "command_result"),
        ]
        var truncated = try agentCase("truncated-envelope", "The envelope JSON cut in the middle.", valid, "malformed")
        let fullText = text(valid)
        truncated.envelope = nil
        truncated.envelopeText = String(fullText.prefix(fullText.count / 2))
        agentCases.append(truncated)

        let command = try WireCoding.decode(
            Command.self,
            from: RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/command-restart-service.json")))
        var cmd = command
        cmd.agentID = agentA
        cmd.requestedBy = signer("operator-3").keyID
        let payload = WireCoding.encode(cmd)
        func commandEnvelope(_ signers: [String], payload p: [UInt8] = payload) throws -> SignedEnvelope {
            SignedEnvelope(
                payload: p, payloadType: .command,
                signatures: try signers.map { try signer($0).signature(payloadType: .command, payload: p) })
        }
        let tamperedPayload = Array(
            String(decoding: payload, as: UTF8.self).replacing("sidekiq", with: "web").utf8)
        var tamperedEnvelope = try commandEnvelope(["operator-3", "operator-1", "operator-2"])
        tamperedEnvelope.payload = tamperedPayload
        let trusted = ["operator-1", "operator-2", "operator-3"]
        // The command's requested_by is operator-3: it must have signed, and never counts as an approval.
        func refused(
            _ name: String, _ description: String, trusted: [String] = trusted, threshold: Int = 2, _ signers: [String]
        )
            throws -> SigningVectorFile.CommandCase
        {
            .init(
                name: name, description: description, trusted: trusted, threshold: threshold, requester: "operator-3",
                envelope: try json(commandEnvelope(signers)), expect: "bad_signature", counted: nil)
        }
        let commandCases: [SigningVectorFile.CommandCase] = [
            .init(
                name: "two-approvals",
                description: "The requester signed and two other trusted operators approved; two required.",
                trusted: trusted, threshold: 2, requester: "operator-3",
                envelope: try json(commandEnvelope(["operator-3", "operator-1", "operator-2"])), expect: "accept",
                counted: ["operator-1", "operator-2"]),
            try refused(
                "requester-did-not-sign", "Two approvals, but no signature by the requester (requested_by): refused.",
                ["operator-1", "operator-2"]),
            try refused(
                "one-of-two", "The requester and one approval where two are required.", ["operator-3", "operator-1"]),
            try refused(
                "self-approval", "The requester's own signature never counts as an approval.", threshold: 1,
                ["operator-3"]),
            .init(
                name: "preview-requester-only",
                description: "A preview (no approval required) runs on the requester's signature alone.",
                trusted: trusted, threshold: 0, requester: "operator-3",
                envelope: try json(commandEnvelope(["operator-3"])), expect: "accept", counted: []),
            try refused(
                "same-key-twice", "One operator signing twice counts once.", ["operator-3", "operator-1", "operator-1"]),
            try refused(
                "untrusted-key", "A signature by a key the host does not trust is ignored.",
                trusted: ["operator-1", "operator-3"], ["operator-3", "operator-1", "operator-2"]),
            .init(
                name: "tampered-parameter", description: "The service changed from sidekiq to web after approval.",
                trusted: trusted, threshold: 2, requester: "operator-3", envelope: try json(tamperedEnvelope),
                expect: "bad_signature", counted: nil),
            try refused(
                "agent-signed-command", "An agent key (or the controller's) cannot mint a command.", threshold: 1,
                ["agent-a"]),
        ]

        let rfc = try Curve25519.Signing.PrivateKey(
            rawRepresentation: Array(hexBytes: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        let rfcSignature = try rfc.signature(for: [UInt8]())
        let paeExamples = [
            ("http://example.com/HelloWorld", "hello world"),
            (PayloadType.report.rawValue, "{}"),
        ].map { type, body in
            SigningVectorFile.PAE(
                payloadType: type, payloadUTF8: body,
                paeUTF8: String(
                    decoding: SignedEnvelope.preAuthenticationEncoding(
                        payloadType: PayloadType(rawValue: type), payload: Array(body.utf8)), as: UTF8.self))
        }
        let file = SigningVectorFile(
            description: "Herd signing vectors. Generated by Tests/HerdProtocolTests/SigningVectorGenerator.swift; "
                + "see Protocol/vectors/README.md for how to run them.",
            keys: keys,
            ed25519: [
                .init(
                    source: "RFC 8032 section 7.1, TEST 1", seedHex: hex(rfc.rawRepresentation),
                    publicKeyHex: hex(rfc.publicKey.rawRepresentation), messageHex: "",
                    signatureHex: hex(rfcSignature))
            ],
            pae: paeExamples, agentMessageCases: agentCases, commandCases: commandCases)
        return (file, valid)
    }
}

extension Array where Element == UInt8 {
    init(hexBytes text: String) {
        let chars = Array(text.utf8)
        self = stride(from: 0, to: chars.count, by: 2).map {
            UInt8(String(decoding: chars[$0..<$0 + 2], as: UTF8.self), radix: 16)!
        }
    }
}
