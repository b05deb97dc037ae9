import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// An operator's TLS client for tests (herdctl does the same for real).
struct OperatorTestClient: Sendable {
    let client: HTTPClient

    init(caPEM: String, certificatePEM: String, keyPEM: String) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caPEM.utf8)))
        tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { .certificate($0) }
        tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        client = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: .init(tlsConfiguration: tls))
    }

    func post(_ url: String, _ body: [UInt8]) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        return Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
    }

    func shutdown() async { try? await client.shutdown() }
}
