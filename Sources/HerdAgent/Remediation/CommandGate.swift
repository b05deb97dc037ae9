import FoundationEssentials
import HerdProtocol

/// Decides whether a command from the controller may run on this host, checking in a fixed order and
/// stopping at the first failure (Protocol/README.md §5): it names this agent; it has not expired (and
/// its validity is within this host's `max_ttl`); its id was never seen (the ledger survives restarts);
/// this host's allowlist permits the action and parameters; it carries the requester's signature and
/// enough approvals from **other** keys in this host's trust file; the action's rate limit allows it.
/// The controller's opinion counts for nothing here: it has no key in the trust file.
public struct CommandGate: Sendable {
    public enum Decision: Sendable {
        /// Run it; the ledger already records the id (and the run), durably.
        case run(Command, approvers: [String])
        /// Refuse it, and say so in a `CommandResult`.
        case refuse(Command, CommandResult.Refusal, String)
        /// Not a command at all (its payload does not decode): nothing to answer to, only to log.
        case drop(String)
    }

    public let agentID: String
    public let instance: String
    public let ledger: CommandLedger
    /// Reads the host's policy afresh for every command: an edit (or a broken permission) takes effect
    /// at once, without a restart.
    public let policy: @Sendable () throws(HostPolicyError) -> HostPolicy
    /// How far in the future `issued_at` may be (clock skew between operator laptops and the host).
    public var maxSkew: Double = 300

    public init(
        agentID: String, instance: String, ledger: CommandLedger,
        policy: @escaping @Sendable () throws(HostPolicyError) -> HostPolicy
    ) {
        self.agentID = agentID
        self.instance = instance
        self.ledger = ledger
        self.policy = policy
    }

    public func decide(_ envelope: SignedEnvelope, now: Date) -> Decision {
        let command: Command
        do {
            guard envelope.payloadType == .command else {
                return .drop("payloadType \(envelope.payloadType) is not a command")
            }
            command = try WireCoding.decode(Command.self, from: envelope.payload)
        } catch {
            return .drop("the payload is not a valid command: \(error.message)")
        }
        guard command.agentID == agentID, command.instance == instance else {
            return .refuse(
                command, .wrongAgent, "addressed to agent \(command.agentID) of \(command.instance), this is \(agentID)"
            )
        }
        let loaded: Result<HostPolicy, HostPolicyError> = Result { () throws(HostPolicyError) in try policy() }
        let maxTTL = (try? loaded.get())?.trust.maxTTL ?? TrustList().maxTTL
        let issued = command.issuedAt.timeIntervalSince1970
        let expires = command.expiresAt.timeIntervalSince1970
        let instant = now.timeIntervalSince1970
        if instant >= expires { return .refuse(command, .expired, "expired \(Int(instant - expires)) s ago") }
        if expires - issued > maxTTL {
            return .refuse(command, .expired, "valid for \(Int(expires - issued)) s; this host allows \(Int(maxTTL)) s")
        }
        if issued > instant + maxSkew { return .refuse(command, .expired, "issued in the future (clock skew?)") }
        if ledger.hasSeen(command.id) { return .refuse(command, .replayed, "command id \(command.id) was seen before") }

        // From here on the id is ours and current: whatever is decided, it is recorded as seen.
        func refuse(_ refusal: CommandResult.Refusal, _ detail: String) -> Decision {
            _ = try? ledger.record(id: command.id, expiresAt: expires, run: nil, now: instant)
            return .refuse(command, refusal, detail)
        }
        let host: HostPolicy
        switch loaded {
        case .success(let value): host = value
        case .failure(let error): return refuse(.notAllowed, "the host's remediation policy is unusable: \(error)")
        }
        if let why = host.allowlist.refusal(for: command.action) { return refuse(.notAllowed, why) }

        let required = host.trust.approvals[command.action.risk] ?? 2
        let approvers: [KeyID]
        do throws(WireError) {
            approvers = try EnvelopeVerifier.verifyCommand(
                envelope, requester: command.requestedBy, trusted: host.trust.keys, approvals: required)
        } catch {
            return refuse(
                .insufficientApprovals,
                "\(error.message); \(command.action.risk.rawValue) actions need \(required) here")
        }

        let (key, limit) = host.allowlist.rateKey(for: command.action)
        if let limit, ledger.runs(key, within: limit.window, now: instant) >= limit.count {
            return refuse(
                .rateLimited,
                "\(key) ran \(limit.count) time(s) within \(limit) already on this host: escalate to a human")
        }
        do {
            guard try ledger.record(id: command.id, expiresAt: expires, run: key, now: instant) else {
                return .refuse(command, .replayed, "command id \(command.id) was seen before")
            }
        } catch {
            return .refuse(
                command, .notAllowed, "cannot record the command in the ledger, so it will not run: \(error)")
        }
        return .run(command, approvers: approvers.map { host.trust.names[$0] ?? $0.short })
    }
}
