import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Why a connection to a service failed below its protocol, in the same kinds and words for every
/// client (Redis, PostgreSQL, HTTP, the certificate probe): a name that does not resolve reads the
/// same on each. Each client sorts its protocol's own errors first (a Redis error reply, a PostgreSQL
/// SQLSTATE, an HTTP client timeout) and asks here for the rest.
struct NetworkFailure: Sendable, Hashable {
    /// Named as the clients' own kinds name them, so each maps by raw value.
    enum Kind: String, Sendable, Hashable {
        /// Nothing listens there (ECONNREFUSED).
        case refused
        /// The unix socket does not exist (ENOENT).
        case socketMissing = "socket_missing"
        /// The socket exists but this user may not connect to it (EACCES, EPERM).
        case permissionDenied = "permission_denied"
        /// No connection within the time allowed (a connect timeout, ETIMEDOUT).
        case timeout
        /// The host name does not resolve.
        case dns
        /// Handshake, certificate or host-name failure.
        case tls
        /// Anything else: unreachable, reset, closed.
        case connection
    }

    var kind: Kind
    /// What to say of it, without the endpoint (the client adds it).
    var detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The transport failure `error` is, or nil when it is none (the client's own error to sort).
    static func classify(_ error: any Error) -> NetworkFailure? {
        if let error = error as? NIOConnectionError {
            // NIO tries every address; the first attempt's error says why.
            if let first = error.connectionErrors.first {
                return classify(first.error) ?? NetworkFailure(.connection, "\(first.error)")
            }
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return NetworkFailure(.dns, "\(error.host) does not resolve")
            }
            return NetworkFailure(.connection, "cannot connect to \(error.host):\(error.port)")
        }
        if let error = error as? IOError {
            return switch error.errnoCode {
            case ECONNREFUSED: NetworkFailure(.refused, "connection refused")
            case ENOENT: NetworkFailure(.socketMissing, "socket does not exist")
            case EACCES, EPERM: NetworkFailure(.permissionDenied, "permission denied on the socket")
            case ETIMEDOUT: NetworkFailure(.timeout, "connection timed out")
            case EHOSTUNREACH, ENETUNREACH: NetworkFailure(.connection, "host unreachable")
            case ECONNRESET, EPIPE: NetworkFailure(.connection, "connection reset")
            default: NetworkFailure(.connection, "\(error)")
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return NetworkFailure(.timeout, "connect timed out")
        }
        if TLSErrors.isTLS(error) { return NetworkFailure(.tls, "TLS: \(TLSErrors.reason(error))") }
        return nil
    }
}
