import Foundation
import HerdProtocol
import Logging

/// What the routes share: settings, the store, the group-commit writer, the CA, the verifier.
public struct Controller: Sendable {
    public let configuration: ControllerConfiguration
    public let store: Store
    public let writer: ReportWriter
    public let ca: FleetCA
    public let verifier: AgentMessageVerifier
    public let logger: Logger
    /// What `/metrics` exposes.
    public let metrics = ControllerMetrics()
    /// Wakes agents' command long-polls.
    public let relay = CommandRelay()
    /// The controller's clock; tests move it.
    public let clock: @Sendable () -> Date

    public init(
        configuration: ControllerConfiguration, store: Store, ca: FleetCA, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.store = store
        self.writer = ReportWriter(
            store: store, maxBatch: configuration.maxBatch, patterns: configuration.patternEngine, metrics: metrics)
        self.ca = ca
        self.verifier = AgentMessageVerifier(policy: ReplayPolicy(maxClockSkew: configuration.maxClockSkew))
        self.logger = logger
        self.clock = clock
        store.subscribe { [relay] event in
            switch event {
            case .commandReady(let agentID): relay.wake(agentID: agentID)
            case .thawed, .resynchronized: relay.wakeAll()
            case .agentChanged: break
            }
        }
    }

    /// Who is calling, from the client certificate alone.
    enum Caller: Sendable {
        case agent(AgentRecord)
        case `operator`(OperatorRecord)
    }

    func caller(_ context: HerdRequestContext) async throws -> Caller {
        guard let fingerprint = await context.clientCertificateFingerprint() else {
            throw WireError(.forbidden, "this endpoint needs a client certificate from the fleet CA")
        }
        if let agent = try await store.agent(fingerprint: fingerprint) {
            guard agent.state != .revoked else { throw WireError(.revoked, "agent \(agent.id) has been revoked") }
            return .agent(agent)
        }
        if let record = try await store.operatorRecord(fingerprint: fingerprint) {
            guard record.revokedAt == nil else { throw WireError(.revoked, "operator \(record.name) has been revoked") }
            return .operator(record)
        }
        throw WireError(.unknownAgent, "this certificate was not issued to any agent or operator of this controller")
    }

    func requireAgent(_ context: HerdRequestContext) async throws -> AgentRecord {
        switch try await caller(context) {
        case .agent(let agent): return agent
        case .operator: throw WireError(.forbidden, "operators cannot send agent messages")
        }
    }

    func requireOperator(_ context: HerdRequestContext) async throws -> OperatorRecord {
        switch try await caller(context) {
        case .operator(let record): return record
        case .agent: throw WireError(.forbidden, "the operator API takes operator certificates only")
        }
    }

    func issue(_ csrPEM: String) -> @Sendable (String) throws -> IssuedCertificate {
        let ca = self.ca
        return { agentID in try Self.issueClient(ca, csrPEM: csrPEM, commonName: "herd-agent:\(agentID)") }
    }

    /// A client certificate for a CSR someone sent: a CSR at fault is their `invalid_field`, naming
    /// `csr_pem`; a CA that cannot issue is ours (500).
    static func issueClient(_ ca: FleetCA, csrPEM: String, commonName: String) throws -> IssuedCertificate {
        do {
            let certificate = try ca.issueClient(csrPEM: csrPEM, commonName: commonName)
            return IssuedCertificate(
                pem: try certificate.serializeAsPEM().pemString, fingerprint: FleetCA.fingerprint(certificate))
        } catch let error as PKIError where error.refusesRequest {
            throw WireError(.invalidField, "csr_pem: \(error.description)")
        }
    }
}
