import ArgumentParser
import AsyncHTTPClient
import Foundation
import HerdProtocol
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// herdctl's exit statuses (README, `herdctl --help`).
public enum HerdctlExit {
    /// `status` only: some instance is critical or silent.
    public static let critical: Int32 = 1
    /// Any other failure the controller reported (no such agent, refused).
    public static let failed: Int32 = 1
    public static let usage: Int32 = 2
    public static let unreachable: Int32 = 3
}

/// A failure herdctl reports with its own exit status.
struct HerdctlError: Error, CustomStringConvertible {
    var description: String
    var status: Int32
}

/// `--config`: the operator identity `herd-controller init` or `herdctl operators` wrote.
struct ConnectionOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "herdctl's configuration (default: $HERDCTL_CONFIG, else ~/.config/herdctl/config).", valueName: "file"))
    var config: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    static var defaultConfig: String {
        let environment = ProcessInfo.processInfo.environment
        if let chosen = environment["HERDCTL_CONFIG"], !chosen.isEmpty { return chosen }
        let base = environment["XDG_CONFIG_HOME"] ?? ((environment["HOME"] ?? "/root") + "/.config")
        return base + "/herdctl/config"
    }

    /// The settings in herdctl's configuration file (`key = value`).
    func settings() throws -> [String: String] {
        let path = config ?? Self.defaultConfig
        do {
            return Dictionary(
                uniqueKeysWithValues: try KeyValueFile.parse(
                    try SecureFile.readText(path, maxBytes: 64 << 10, private: true)
                )
                .map { ($0.key, $0.value) })
        } catch let error as KeyValueFileError {
            throw HerdctlError(description: "\(path):\(error.line): \(error.problem)", status: HerdctlExit.usage)
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
    }

    /// This operator's name and Ed25519 signing key (0600, never sent anywhere): proposals and approvals
    /// are signed with it.
    func signer() throws -> (name: String, signer: MessageSigner) {
        let values = try settings()
        guard let name = values["operator"], let path = values["signing_key"] else {
            throw HerdctlError(
                description: "\(config ?? Self.defaultConfig) needs operator and signing_key", status: HerdctlExit.usage
            )
        }
        do {
            return (name, MessageSigner(privateKey: try SigningKeyPEM.load(from: path)))
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
    }

    func client() throws -> OperatorClient {
        let path = config ?? Self.defaultConfig
        let values = try settings()
        guard let controller = values["controller"], let ca = values["ca"], let certificate = values["certificate"],
            let key = values["tls_key"]
        else {
            throw HerdctlError(
                description: "\(path) needs controller, ca, certificate and tls_key", status: HerdctlExit.usage)
        }
        // The operator API is mutual TLS or nothing: plain HTTP would send no certificate and trust any answer.
        guard controller.lowercased().hasPrefix("https://") else {
            throw HerdctlError(
                description: "\(path): controller must be an https:// URL, not \(controller.escapingControlCharacters)",
                status: HerdctlExit.usage)
        }
        if HerdctlHarness.current != nil { return OperatorClient(answeredInProcess: controller) }
        do {
            return try OperatorClient(
                controller: controller, caPEM: try SecureFile.readText(ca),
                certificatePEM: try SecureFile.readText(certificate),
                keyPEM: try SecureFile.readText(key, maxBytes: 16 << 10, private: true))
        } catch let error as HerdctlError {
            throw error
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
    }
}

/// The operator's HTTPS client: the fleet CA alone trusted, the operator's certificate presented.
final class OperatorClient: Sendable {
    /// nil when a `HerdctlHarness` answers instead.
    private let client: HTTPClient?
    let base: String

    init(answeredInProcess controller: String) {
        client = nil
        base = controller
    }

    init(controller: String, caPEM: String, certificatePEM: String, keyPEM: String) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuites = TransportSecurity.tls12CipherSuites
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow, timeout: .init(connect: .seconds(10)))
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        base = controller.hasSuffix("/") ? String(controller.dropLast()) : controller
    }

    func shutdown() async { try? await client?.shutdown() }

    /// How long one exchange may take, head and body (`HERDCTL_TIMEOUT` seconds, 1 to 600; default 30).
    static var timeout: Duration {
        let seconds = ProcessInfo.processInfo.environment["HERDCTL_TIMEOUT"].flatMap(Int.init) ?? 30
        return .seconds(min(600, max(1, seconds)))
    }

    /// Sends a request and decodes the answer; a protocol error becomes exit 1, no answer exit 3.
    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, as: T.Type) async throws -> T {
        try await exchange(method, path, body: body) { try? JSONCodable.decode(T.self, from: Data($0)) }
    }

    /// The same for answers in the protocol's own encoding (the fleet table).
    func call<T: WireMessage>(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, as: T.Type) async throws
        -> T
    {
        try await exchange(method, path, body: body) {
            try? WireCoding.decode(T.self, from: $0, maxBytes: OperatorAPI.Fleet.maxBytes)
        }
    }

    private func exchange<T>(
        _ method: HTTPMethod, _ path: String, body: [UInt8]?, decode: ([UInt8]) -> T?
    ) async throws -> T {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        request.headers.add(name: "User-Agent", value: "herdctl/\(HerdVersion.current)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let status: Int
        let bytes: [UInt8]
        let timeout = Self.timeout
        if let harness = HerdctlHarness.current {
            (status, bytes) = harness.answer(method.rawValue, path, body)
        } else if let client {
            do {
                // One deadline for head and body: a controller that trickles its answer must not hang herdctl.
                let request = request
                guard
                    let (code, body) = try await withDeadline(
                        timeout,
                        {
                            let response = try await client.execute(request, timeout: .init(timeout))
                            let body = Array(
                                try await response.body.collect(upTo: OperatorAPI.Fleet.maxBytes).readableBytesView)
                            return (Int(response.status.code), body)
                        })
                else {
                    throw HerdctlError(
                        description:
                            "no complete answer from the controller at \(base) within \(timeout.components.seconds) s",
                        status: HerdctlExit.unreachable)
                }
                status = code
                bytes = body
            } catch let error as HerdctlError {
                throw error
            } catch {
                throw HerdctlError(
                    description: "cannot reach the controller at \(base): \(error)", status: HerdctlExit.unreachable)
            }
        } else {
            throw HerdctlError(description: "no client for \(base)", status: HerdctlExit.unreachable)
        }
        if status == 200, let value = decode(bytes) { return value }
        if let refusal = try? WireCoding.decode(ErrorResponse.self, from: bytes) {
            throw HerdctlError(
                description:
                    "the controller refused: \(refusal.error.code): \(refusal.error.message)".escapingControlCharacters,
                status: HerdctlExit.failed)
        }
        if status == 200 {
            // Read, but not as this verb's answer: the likeliest cause is a controller of another version.
            throw HerdctlError(
                description:
                    "the answer from \(base) is not what herdctl \(HerdVersion.current) reads for \(path): are herdctl and the controller the same version?",
                status: HerdctlExit.failed)
        }
        throw HerdctlError(description: "unexpected answer \(status) from \(base)", status: HerdctlExit.failed)
    }
}

/// Runs a verb's work with a client, shut down afterwards whatever happens.
func withClient<T>(_ options: ConnectionOptions, _ body: (OperatorClient) async throws -> T) async throws -> T {
    let client = try options.client()
    do {
        let value = try await body(client)
        await client.shutdown()
        return value
    } catch {
        await client.shutdown()
        throw error
    }
}

/// Prints JSON the way every verb's `--json` does: the controller's answer, sorted keys, pretty.
func printJSON<T: Encodable>(_ value: T) throws {
    emit(String(decoding: try JSONCodable.encode(value, pretty: true), as: UTF8.self))
}

func printJSON<T: WireMessage>(_ value: T) {
    emit(String(decoding: WireCoding.encode(value, pretty: true), as: UTF8.self), terminator: "")
}
