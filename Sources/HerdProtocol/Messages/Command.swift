/// A remediation for one agent, proposed by an operator and approved by operators' signatures.
///
/// Signed as `application/vnd.herd.command.v1+json` by operators (never by the controller, which only
/// relays). The agent executes it only if it names this agent, has not expired, was never seen before,
/// is allowed by the host's own allowlist, and carries enough signatures from keys the host trusts.
public struct Command: WireMessage, Hashable {
    public static let payloadType = PayloadType.command

    /// A lowercase UUID, unique forever: the agent refuses any id it has seen.
    public var id: String
    public var agentID: String
    public var instance: String
    public var action: CommandAction
    /// Why the operator asked for it; shown on the host and kept in the audit log.
    public var reason: String
    /// Key id of the operator who proposed it. That key's signature never counts as an approval.
    public var requestedBy: KeyID
    public var issuedAt: Date
    public var expiresAt: Date

    public init(
        id: String, agentID: String, instance: String, action: CommandAction, reason: String,
        requestedBy: KeyID, issuedAt: Date, expiresAt: Date
    ) {
        self.id = id
        self.agentID = agentID
        self.instance = instance
        self.action = action
        self.reason = reason
        self.requestedBy = requestedBy
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case id, agentID = "agent_id", instance, action, reason, requestedBy = "requested_by"
        case issuedAt = "issued_at", expiresAt = "expires_at"
    }

    public func validate() throws(WireError) {
        guard Self.isLowercaseUUID(id) else { throw .invalid("id", "must be a lowercase UUID") }
        try Rule.identifier(agentID, "agent_id")
        try Rule.domain(instance, "instance")
        try action.validate(at: "action")
        try Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)
        try requestedBy.validate(at: "requested_by")
        let ttl = expiresAt.timeIntervalSince(issuedAt)
        guard ttl > 0, ttl <= Double(Limits.maxCommandTTL.components.seconds) else {
            throw .invalid("expires_at", "must be after issued_at by at most \(Limits.maxCommandTTL)")
        }
    }

    public static func isLowercaseUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (i, b) in bytes.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard b == 0x2D else { return false }
            } else {
                guard (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) else { return false }
            }
        }
        return true
    }
}
