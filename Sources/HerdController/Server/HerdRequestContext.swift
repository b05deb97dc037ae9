import Crypto
import HerdProtocol
import Hummingbird
import NIOCore
import NIOSSL

/// The request context of every route: Hummingbird's core storage plus the connection, whose TLS
/// handler knows the client certificate — the only thing the controller identifies a caller by.
public struct HerdRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    /// The operator calling, set by `OperatorsOnly` on the operator API's routes.
    var caller: OperatorRecord?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The operator the `OperatorsOnly` gate let through.
    func requireOperator() throws(WireError) -> OperatorRecord {
        guard let caller else { throw WireError(.forbidden, "the operator API takes operator certificates only") }
        return caller
    }

    /// Bodies are envelopes: nothing larger is read (`too_large`).
    public var maxUploadSize: Int { Limits.maxEnvelopeBytes }

    /// SHA-256 of the DER of the client's leaf certificate (verified against the fleet CA during the
    /// handshake), nil when the client sent none.
    public func clientCertificateFingerprint() async -> String? {
        guard let certificate = try? await channel.nioSSL_peerCertificate().get(),
            let der = try? certificate.toDERBytes()
        else { return nil }
        return FleetCA.fingerprint(der: der)
    }
}
