/// The controller's answer to an enrollment: accepted with the agent's certificate, or pending
/// until an operator accepts it (`herdctl agents accept`). Sending the same request again later
/// returns the current state.
public struct EnrollResponse: WireMessage, Hashable {
    public enum State: String, Codable, Sendable, Hashable, CaseIterable {
        case accepted, pending
    }

    public var agentID: String
    public var state: State
    /// The agent's TLS client certificate, PEM; present when accepted.
    public var certificatePEM: String?
    /// The fleet CA, PEM: the agent pins it for every later connection.
    public var caCertificatePEM: String
    /// The key id the controller recorded for the agent's signing key, for the agent to compare.
    public var signingKeyID: KeyID
    public var serverTime: Date

    public init(
        agentID: String, state: State, certificatePEM: String?, caCertificatePEM: String, signingKeyID: KeyID,
        serverTime: Date
    ) {
        self.agentID = agentID
        self.state = state
        self.certificatePEM = certificatePEM
        self.caCertificatePEM = caCertificatePEM
        self.signingKeyID = signingKeyID
        self.serverTime = serverTime
    }

    enum CodingKeys: String, CodingKey {
        case agentID = "agent_id", state, certificatePEM = "certificate_pem"
        case caCertificatePEM = "ca_certificate_pem", signingKeyID = "signing_key_id", serverTime = "server_time"
    }

    public func validate() throws(WireError) {
        try Rule.identifier(agentID, "agent_id")
        guard (state == .accepted) == (certificatePEM != nil) else {
            throw .invalid("certificate_pem", "must be present exactly when state is accepted")
        }
        if let certificatePEM { try Rule.text(certificatePEM, "certificate_pem", maxBytes: Limits.maxPEMBytes) }
        try Rule.text(caCertificatePEM, "ca_certificate_pem", maxBytes: Limits.maxPEMBytes)
        try signingKeyID.validate(at: "signing_key_id")
    }
}
