/// An agent asking to join the fleet with a one-time token.
///
/// Sent as an envelope of type `application/vnd.herd.enroll-request.v1+json` signed by the new
/// signing key it carries, which proves the agent holds that key. The CSR is for the agent's TLS key
/// (ECDSA P-256), a different key from the Ed25519 signing key.
public struct EnrollRequest: WireMessage, Hashable {
    public static let payloadType = PayloadType.enrollRequest

    public var token: String
    public var instance: String
    public var agentVersion: String
    /// The agent's Ed25519 public key, standard base64 of the 32 raw bytes.
    public var signingPublicKey: String
    /// PKCS#10 certificate signing request for the agent's TLS key, PEM.
    public var csrPEM: String
    public var host: HostFacts
    public var sentAt: Date
    /// The part of the instance this host runs; absent means `all` (the whole instance).
    public var role: AgentRole?

    public init(
        token: String, instance: String, agentVersion: String, signingPublicKey: String, csrPEM: String,
        host: HostFacts, sentAt: Date, role: AgentRole? = nil
    ) {
        self.token = token
        self.instance = instance
        self.agentVersion = agentVersion
        self.signingPublicKey = signingPublicKey
        self.csrPEM = csrPEM
        self.host = host
        self.sentAt = sentAt
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case token, instance, agentVersion = "agent_version", signingPublicKey = "signing_public_key"
        case csrPEM = "csr_pem", host, sentAt = "sent_at", role
    }

    public func validate() throws(WireError) {
        try Rule.line(token, "token", maxBytes: Limits.maxShortTextBytes)
        try Rule.domain(instance, "instance")
        try Rule.line(agentVersion, "agent_version", maxBytes: Limits.maxShortTextBytes)
        guard let raw = Base64.decode(signingPublicKey), raw.count == 32 else {
            throw .invalid("signing_public_key", "must be base64 of a 32-byte Ed25519 public key")
        }
        try Rule.text(csrPEM, "csr_pem", maxBytes: Limits.maxPEMBytes)
        guard csrPEM.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----") else {
            throw .invalid("csr_pem", "must be a PEM certificate request")
        }
        try host.validate(at: "host")
        if role != nil, !Rule.isIdentifier(AgentRole.hostLabel(host.hostname)) {
            throw .invalid("host.hostname", "must start with a label of a-z, 0-9, '-' or '_' for an agent with a role")
        }
    }
}
