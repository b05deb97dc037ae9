/// The controller's answer to an enrollment: accepted with the agent's certificate, or pending
/// until an operator accepts it (`herdctl agents accept`). Sending the same request again later
/// returns the current state.
public struct EnrollResponse: WireMessage, Hashable {
    public enum State: String, Sendable, Hashable, CaseIterable {
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

    public init(json r: inout JSONReader) throws(WireError) {
        var agentID: String?, state: State?, certificate: String?, ca: String?, keyID: String?, serverTime: Date?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "agent_id": agentID = try r.readString()
            case "state": state = try r.readEnum(State.self)
            case "certificate_pem": certificate = try r.readNull() ? nil : r.readString()
            case "ca_certificate_pem": ca = try r.readString()
            case "signing_key_id": keyID = try r.readString()
            case "server_time": serverTime = try r.readDate()
            default: try r.skipValue()
            }
        }
        self.init(
            agentID: try r.required(agentID, "agent_id"), state: try r.required(state, "state"),
            certificatePEM: certificate, caCertificatePEM: try r.required(ca, "ca_certificate_pem"),
            signingKeyID: KeyID(rawValue: try r.required(keyID, "signing_key_id")),
            serverTime: try r.required(serverTime, "server_time"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("agent_id", agentID)
            w.field("ca_certificate_pem", caCertificatePEM)
            w.field("certificate_pem", certificatePEM)
            w.field("server_time", serverTime)
            w.field("signing_key_id", signingKeyID.rawValue)
            w.field("state", state.rawValue)
        }
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
