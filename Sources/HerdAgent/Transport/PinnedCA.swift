import Crypto
import FoundationEssentials
import HerdProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import X509

/// Fetches the fleet CA from the controller before the agent has any reason to trust it: the TLS
/// handshake succeeds only if the server presents, in its chain, a certificate whose SHA-256 (over the
/// DER) is the fingerprint the operator gave out of band — and the server's own certificate is signed
/// by it. Every later connection trusts that CA alone.
enum PinnedCA {
    struct FetchError: Error, CustomStringConvertible {
        var description: String
    }

    static func fetch(host: String, port: Int, fingerprint: String, timeout: Duration = .seconds(10)) async throws
        -> NIOSSLCertificate
    {
        let pinned = fingerprint.lowercased().filter { $0 != ":" }
        guard pinned.count == 64, pinned.allSatisfy(\.isHexDigit) else {
            throw FetchError(description: "--ca-fingerprint must be 64 hex digits (SHA-256)")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.cipherSuites = TransportSecurity.tls12CipherSuites
        let context = try NIOSSLContext(configuration: configuration)
        let found = NIOLockedValueBox<NIOSSLCertificate?>(nil)
        let presented = NIOLockedValueBox<[String]>([])
        let sni: String? = host.first.map { !$0.isNumber } == true && !host.contains(":") ? host : nil
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(Int64(timeout.components.seconds * 1000)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: sni,
                        customVerificationCallback: { chain, promise in
                            presented.withLockedValue { $0 = chain.map(Self.fingerprint) }
                            guard let ca = chain.first(where: { Self.fingerprint($0) == pinned }),
                                let leaf = chain.first, leaf != ca || chain.count == 1,
                                Self.isSigned(leaf, by: ca)
                            else {
                                promise.succeed(.failed)
                                return
                            }
                            found.withLockedValue { $0 = ca }
                            promise.succeed(.certificateVerified)
                        })
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel = try await bootstrap.connect(host: host, port: port).get()
        defer { channel.close(promise: nil) }
        // The handshake runs on connect; its outcome is known once the peer certificate is.
        for _ in 0..<Int(timeout.components.seconds * 20) {
            if let ca = found.withLockedValue({ $0 }) { return ca }
            if !channel.isActive { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let seen = presented.withLockedValue { $0 }
        throw FetchError(
            description:
                "the controller at \(host):\(port) did not present a CA with fingerprint \(pinned) (wrong fingerprint, or not a Herd controller); "
                + (seen.isEmpty ? "no certificate was presented" : "it presented \(seen.joined(separator: ", "))"))
    }

    static func fingerprint(_ certificate: NIOSSLCertificate) -> String {
        guard let der = try? certificate.toDERBytes() else { return "" }
        return Hex.lowercase(SHA256.hash(data: der))
    }

    /// Whether `leaf` carries a valid signature by `ca`'s key.
    static func isSigned(_ leaf: NIOSSLCertificate, by ca: NIOSSLCertificate) -> Bool {
        guard let leafDER = try? leaf.toDERBytes(), let caDER = try? ca.toDERBytes(),
            let leaf = try? Certificate(derEncoded: leafDER), let ca = try? Certificate(derEncoded: caDER)
        else { return false }
        return ca.publicKey.isValidSignature(leaf.signature, for: leaf)
    }
}
