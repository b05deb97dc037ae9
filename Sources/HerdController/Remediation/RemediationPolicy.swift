import HerdProtocol

/// The controller's side of approval: how many distinct operators, besides the requester, must sign
/// before a command is dispatched, per risk class, and how long a proposal stays valid. Each host's
/// trust file sets its own thresholds, which the agent enforces whatever the controller decided.
public struct RemediationPolicy: Sendable, Hashable {
    public var approvals: [CommandAction.Risk: Int] = [.preview: 0, .routine: 1, .destructive: 2]
    /// The command's validity (`expires_at − issued_at`) herdctl sets and the controller accepts at most.
    public var ttl: Double = 600

    public init() {}

    public func required(_ risk: CommandAction.Risk) -> Int { approvals[risk] ?? 2 }
}
