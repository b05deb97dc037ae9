import Crypto

/// A message an agent signs and sends through its outbox: it names its agent and carries replay fields.
public protocol AgentMessage: WireMessage {
    static var payloadType: PayloadType { get }
    var agentID: String { get }
    /// The instance the agent was enrolled for: a message about another one is refused.
    var instance: String { get }
    var sequence: UInt64 { get }
    var sentAt: Date { get }
}

/// An enrolled agent as the receiver knows it.
public struct AgentIdentity: Sendable, Hashable {
    public var id: String
    public var signingKey: Curve25519.Signing.PublicKey

    public init(id: String, signingKey: Curve25519.Signing.PublicKey) {
        self.id = id
        self.signingKey = signingKey
    }

    public static func == (lhs: AgentIdentity, rhs: AgentIdentity) -> Bool {
        lhs.id == rhs.id && lhs.signingKey.rawRepresentation == rhs.signingKey.rawRepresentation
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(signingKey.rawRepresentation)
    }
}

public struct VerifiedAgentMessage<Message: AgentMessage>: Sendable {
    public var message: Message
    /// The exact bytes that were signed, for storage and audit.
    public var payload: [UInt8]
    public var envelope: SignedEnvelope
    public var decision: ReplayPolicy.Decision
}

/// Opens an agent's envelope the way the controller must, in a fixed order so that each failure has one
/// code: envelope shape (`too_large`, `malformed`, `invalid_field`), payload type (`unsupported_version`),
/// signature by this agent's key over the exact bytes (`bad_signature`), payload shape and rules
/// (`malformed`, `invalid_field`), the agent named (`identity_mismatch`), clock (`clock_skew`), sequence
/// (`replayed_sequence`). Nothing is decoded before its signature is checked.
public struct AgentMessageVerifier: Sendable {
    public var policy: ReplayPolicy
    public var maxEnvelopeBytes: Int

    public init(policy: ReplayPolicy = ReplayPolicy(), maxEnvelopeBytes: Int = Limits.maxEnvelopeBytes) {
        self.policy = policy
        self.maxEnvelopeBytes = maxEnvelopeBytes
    }

    public func verify<Message: AgentMessage>(
        _ type: Message.Type, envelopeBytes: some Collection<UInt8>, from agent: AgentIdentity,
        lastAcceptedSequence: UInt64?, now: Date
    ) throws(WireError) -> VerifiedAgentMessage<Message> {
        let envelope = try WireCoding.decode(SignedEnvelope.self, from: envelopeBytes, maxBytes: maxEnvelopeBytes)
        return try verify(type, envelope: envelope, from: agent, lastAcceptedSequence: lastAcceptedSequence, now: now)
    }

    public func verify<Message: AgentMessage>(
        _ type: Message.Type, envelope: SignedEnvelope, from agent: AgentIdentity, lastAcceptedSequence: UInt64?,
        now: Date
    ) throws(WireError) -> VerifiedAgentMessage<Message> {
        try EnvelopeVerifier.verify(envelope, as: Message.payloadType, signedBy: agent.signingKey)
        let message = try WireCoding.decode(Message.self, from: envelope.payload, maxBytes: maxEnvelopeBytes)
        guard message.agentID == agent.id else {
            throw WireError(.identityMismatch, "message names agent '\(message.agentID)', sender is '\(agent.id)'")
        }
        let decision = try policy.check(
            sequence: message.sequence, sentAt: message.sentAt, lastAccepted: lastAcceptedSequence, now: now)
        return VerifiedAgentMessage(message: message, payload: envelope.payload, envelope: envelope, decision: decision)
    }
}
