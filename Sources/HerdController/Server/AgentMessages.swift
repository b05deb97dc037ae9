import Foundation
import HerdProtocol
import Hummingbird

extension Controller {
    /// The calling agent's signed message in the request body, opened in the order of
    /// Protocol/README.md §3 against that agent's key and last sequence, and about its own instance.
    func openAgentMessage<Message: AgentMessage>(
        _ type: Message.Type, _ request: Request, _ context: HerdRequestContext
    )
        async throws -> (agent: AgentRecord, verified: VerifiedAgentMessage<Message>, now: Date)
    {
        let agent = try await requireAgent(context)
        let bytes = try await request.envelopeBytes()
        guard let identity = agent.identity else {
            throw WireError(.internalError, "agent \(agent.id) has an unreadable signing key")
        }
        let now = clock()
        let verified = try verifier.verify(
            type, envelopeBytes: bytes, from: identity, lastAcceptedSequence: agent.lastSequence, now: now)
        guard verified.message.instance == agent.instance else {
            throw WireError(
                .identityMismatch, "a message about \(verified.message.instance) from the agent of \(agent.instance)")
        }
        return (agent, verified, now)
    }

    /// A message this replica judged new, against what it remembered of the agent, that the store did
    /// not take: this sequence or a later one was stored meanwhile — by the agent's own retry, or through
    /// another replica — or the agent was revoked elsewhere. The database decides, as Protocol §4 says:
    /// the same sequence is a retry (acknowledged, `duplicate`), an older one is `replayed_sequence`.
    func settleNotStored(agentID: String, sequence: UInt64, sentAt: Date, now: Date) async throws {
        guard let stored = try await store.agent(id: agentID) else {
            throw WireError(.unknownAgent, "agent \(agentID) is gone")
        }
        guard stored.state != .revoked else { throw WireError(.revoked, "agent \(agentID) has been revoked") }
        _ = try ReplayPolicy(maxClockSkew: configuration.maxClockSkew).check(
            sequence: sequence, sentAt: sentAt, lastAccepted: stored.lastSequence, now: now)
    }
}
