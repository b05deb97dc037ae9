import Foundation
import HerdProtocol
import HerdTestSupport

/// The shape of Protocol/vectors/signing.json. Field names are the file's; see Protocol/vectors/README.md.
struct SigningVectorFile: Codable {
    struct Key: Codable {
        var seedHex: String
        var publicKeyBase64: String
        var keyID: String
        enum CodingKeys: String, CodingKey {
            case seedHex = "seed_hex"
            case publicKeyBase64 = "public_key_base64"
            case keyID = "key_id"
        }
    }

    struct PAE: Codable {
        var payloadType: String
        var payloadUTF8: String
        var paeUTF8: String
        enum CodingKeys: String, CodingKey {
            case payloadType = "payload_type"
            case payloadUTF8 = "payload_utf8"
            case paeUTF8 = "pae_utf8"
        }
    }

    struct Ed25519: Codable {
        var source: String
        var seedHex: String
        var publicKeyHex: String
        var messageHex: String
        var signatureHex: String
        enum CodingKeys: String, CodingKey {
            case source
            case seedHex = "seed_hex"
            case publicKeyHex = "public_key_hex"
            case messageHex = "message_hex"
            case signatureHex = "signature_hex"
        }
    }

    struct Verifier: Codable {
        var agentID: String
        var key: String
        var lastAcceptedSequence: UInt64?
        var now: String
        var maxClockSkewSeconds: Int
        enum CodingKeys: String, CodingKey {
            case agentID = "agent_id"
            case key
            case lastAcceptedSequence = "last_accepted_sequence"
            case now
            case maxClockSkewSeconds = "max_clock_skew_seconds"
        }
    }

    struct AgentCase: Codable {
        var name: String
        var description: String
        var payloadKind: String
        var verifier: Verifier
        var envelope: JSONValue?
        var envelopeText: String?
        /// `accept`, `retry_of_last_accepted`, or the expected error code.
        var expect: String
        enum CodingKeys: String, CodingKey {
            case name, description
            case payloadKind = "payload_kind"
            case verifier, envelope
            case envelopeText = "envelope_text"
            case expect
        }
    }

    struct CommandCase: Codable {
        var name: String
        var description: String
        var trusted: [String]
        /// How many approvals the host requires, besides the requester's own signature.
        var threshold: Int
        /// The key the command's `requested_by` names: it must have signed, and never counts.
        var requester: String
        var envelope: JSONValue
        /// `accept` or the expected error code.
        var expect: String
        /// With `accept`: the key names whose signatures count, in envelope order.
        var counted: [String]?
    }

    var description: String
    var keys: [String: Key]
    var ed25519: [Ed25519]
    var pae: [PAE]
    var agentMessageCases: [AgentCase]
    var commandCases: [CommandCase]

    enum CodingKeys: String, CodingKey {
        case description, keys, ed25519, pae
        case agentMessageCases = "agent_message_cases"
        case commandCases = "command_cases"
    }
}

/// The vector file is test data, not a protocol message: it goes through Foundation's coders.
enum VectorJSON {
    static func bytes(_ value: some Encodable) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    static func pretty(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value)) + [0x0A]
    }
}
