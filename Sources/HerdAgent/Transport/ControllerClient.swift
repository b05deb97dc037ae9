import AsyncHTTPClient
import FoundationEssentials
import HerdProtocol
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Why a message did not reach the controller, or what the controller said instead.
public enum TransportError: Error, Sendable, CustomStringConvertible {
    /// No answer: network, DNS, timeout, a TLS failure (either shape: NIOSSLError or BoringSSLError).
    case unreachable(String)
    /// The controller answered with a protocol error.
    case refused(WireError)
    /// An answer that is not the protocol (a proxy page, a wrong endpoint).
    case unexpected(Int, String)

    public var description: String {
        switch self {
        case .unreachable(let why): "controller unreachable: \(why)"
        case .refused(let error): "controller refused: \(error.code): \(error.message)"
        case .unexpected(let status, let text): "unexpected answer \(status): \(text)"
        }
    }
}

/// The agent's HTTPS client to the controller (AsyncHTTPClient: URLSession cannot present client
/// certificates on Linux): the fleet CA alone is trusted, TLS 1.2+, the agent's certificate presented
/// once enrolled, connections kept alive between reports.
public final class ControllerClient: Sendable {
    private let client: HTTPClient
    private let base: String
    /// How long one exchange may take, head and body (the long-poll: its wait and this).
    private let timeout: Duration

    public init(
        controller: String, caCertificatePEM: String, identity: (certificatePEM: String, keyPEM: String)?,
        timeout: Duration = .seconds(30)
    ) throws {
        self.timeout = timeout
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuites = TransportSecurity.tls12CipherSuites
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caCertificatePEM.utf8)))
        if let identity {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8))
                .map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.keyPEM.utf8), format: .pem))
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        base = controller.hasSuffix("/") ? String(controller.dropLast()) : controller
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    public func enroll(_ envelope: SignedEnvelope) async throws(TransportError) -> EnrollResponse {
        try await post("/v1/enroll", envelope, as: EnrollResponse.self)
    }

    public func send(report envelope: SignedEnvelope) async throws(TransportError) -> IngestResponse {
        try await post("/v1/reports", envelope, as: IngestResponse.self)
    }

    public func send(result envelope: SignedEnvelope) async throws(TransportError) -> IngestResponse {
        try await post("/v1/command-results", envelope, as: IngestResponse.self)
    }

    /// The command long-poll: the controller answers when a command is approved for this agent, or
    /// with an empty batch after `wait`.
    public func commands(wait: Duration) async throws(TransportError) -> CommandBatch {
        var request = HTTPClientRequest(url: base + "/v1/commands?wait=\(wait.components.seconds)")
        request.method = .GET
        request.headers.add(name: "User-Agent", value: "herd-agent/\(HerdVersion.current)")
        return try await execute(request, timeout: wait + timeout, as: CommandBatch.self)
    }

    private func post<Answer: WireMessage>(_ path: String, _ envelope: SignedEnvelope, as: Answer.Type)
        async throws(TransportError) -> Answer
    {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "herd-agent/\(HerdVersion.current)")
        request.body = .bytes(ByteBuffer(bytes: WireCoding.encode(envelope)))
        return try await execute(request, timeout: timeout, as: Answer.self)
    }

    private func execute<Answer: WireMessage>(_ request: HTTPClientRequest, timeout: Duration, as: Answer.Type)
        async throws(TransportError) -> Answer
    {
        let status: Int
        let body: [UInt8]
        do {
            // One deadline for head and body: a controller (or a middlebox) that answers the headers
            // and then trickles the body must not hold delivery past it.
            let client = self.client
            let request = request
            guard
                let (code, bytes) = try await withDeadline(
                    timeout,
                    {
                        let response = try await client.execute(request, timeout: .init(timeout))
                        let bytes = Array(
                            try await response.body.collect(upTo: Limits.maxEnvelopeBytes).readableBytesView)
                        return (Int(response.status.code), bytes)
                    })
            else { throw TransportError.unreachable("no complete answer within \(timeout.components.seconds) s") }
            status = code
            body = bytes
        } catch let error as TransportError {
            throw error
        } catch {
            throw .unreachable(TLSErrors.isTLS(error) ? "TLS: \(TLSErrors.reason(error))" : "\(error)")
        }
        if status == 200 {
            do {
                return try WireCoding.decode(Answer.self, from: body)
            } catch {
                throw .unexpected(status, "not a \(Answer.self): \(error)".escapingControlCharacters)
            }
        }
        if let refusal = try? WireCoding.decode(ErrorResponse.self, from: body) { throw .refused(refusal.error) }
        throw .unexpected(status, String(decoding: body.prefix(200), as: UTF8.self).escapingControlCharacters)
    }
}
