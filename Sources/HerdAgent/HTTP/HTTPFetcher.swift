import AsyncHTTPClient
import HerdProtocol
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Why an HTTP request got no answer, sorted the way the HTTP checks report it.
public struct HTTPFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Nothing listens there (ECONNREFUSED).
        case refused
        /// The unix socket does not exist.
        case socketMissing = "socket_missing"
        /// No answer (connect, head or body) within the time allowed.
        case timeout
        /// Handshake, certificate or host-name failure.
        case tls
        /// The name does not resolve.
        case dns
        /// Reset, closed mid-answer, or a malformed answer.
        case connection
        /// The URL cannot be requested (a configuration problem, not the server's).
        case invalidURL = "invalid_url"
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// An answer: status, headers and the first `maxBodyBytes` of the body (the rest is never read).
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The server sent more than the check reads.
    public var truncated: Bool
    /// From sending the request to the end of the part of the body read.
    public var milliseconds: Double

    public init(status: Int, headers: HTTPHeaders, body: [UInt8], truncated: Bool = false, milliseconds: Double = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.truncated = truncated
        self.milliseconds = milliseconds
    }

    public func header(_ name: String) -> String? { headers.first(name: name) }

    /// The media type, lower-cased, without parameters.
    public var mediaType: String {
        guard let value = header("content-type") else { return "" }
        return value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: " ").lowercased() } ?? ""
    }

    public var isJSON: Bool { mediaType == "application/json" || mediaType.hasSuffix("+json") }
    public var isHTML: Bool { mediaType == "text/html" }

    /// The `error` member of a Mastodon JSON error body (`{"error": "…"}`), if there is one.
    public var errorMessage: String? {
        guard isJSON, !truncated else { return nil }
        var reader = JSONReader(body)
        var message: String?
        do throws(WireError) {
            try reader.readObject { r, key throws(WireError) in
                if key != "error" {
                    try r.skipValue()
                } else if !r.readNull() {
                    message = try r.readString()
                }
            }
        } catch {
            return nil
        }
        return message
    }
}

/// The HTTP client of the Mastodon checks: AsyncHTTPClient with TLS 1.2 or newer, the system's trust
/// roots plus an optional CA file, no redirects followed (a redirect is an answer worth reporting), no
/// retries of failed connections (a refused port is reported at once, not after the whole timeout),
/// and a hard deadline over connect, head **and** body — AsyncHTTPClient's own deadline stops at the
/// head, so a server that dribbles its body forever would otherwise hold the check.
public final class HTTPFetcher: Sendable {
    private let client: HTTPClient
    public static let userAgent = "herd-agent/\(HerdVersion.current)"

    /// - Parameters:
    ///   - caFile: a PEM file of extra trust roots (a private CA in front of a staging fleet).
    ///   - dnsOverride: host name → address to connect to, the host name still being the one sent as
    ///     SNI and verified (`curl --resolve`): probe the public name through a given front end.
    public init(caFile: String? = nil, dnsOverride: [String: String] = [:], connectTimeout: Duration)
        throws(HTTPFailure)
    {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile {
            tls.additionalTrustRoots = [.file(caFile)]
            do {
                _ = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw HTTPFailure(.invalidURL, "cannot read the CA file \(caFile): \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(max(1, connectTimeout.milliseconds))))
        configuration.dnsOverride = dnsOverride
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// One request, answered or failed within `timeout`; never throws.
    public func fetch(
        _ method: HTTPMethod, _ url: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil, timeout: Duration,
        maxBodyBytes: Int = 64 << 10
    ) async -> Result<HTTPReply, HTTPFailure> {
        let start = ContinuousClock.now
        do {
            let reply = try await withThrowingTaskGroup(of: HTTPReply?.self) { group in
                group.addTask {
                    var request = HTTPClientRequest(url: url)
                    request.method = method
                    request.headers = headers
                    if !request.headers.contains(name: "user-agent") {
                        request.headers.add(name: "User-Agent", value: Self.userAgent)
                    }
                    if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
                    return try await self.exchange(request, timeout: timeout, maxBodyBytes: maxBodyBytes, start: start)
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let reply = first else {
                    throw HTTPFailure(.timeout, "no answer within \(timeout.milliseconds) ms")
                }
                return reply
            }
            return .success(reply)
        } catch {
            var failure = Self.classify(error)
            // Whichever deadline fired first (ours, or AsyncHTTPClient's on the head), say it the same way.
            if failure.kind == .timeout { failure.description = "no answer within \(timeout.milliseconds) ms" }
            return .failure(failure)
        }
    }

    private func exchange(
        _ request: HTTPClientRequest, timeout: Duration, maxBodyBytes: Int, start: ContinuousClock.Instant
    )
        async throws -> HTTPReply
    {
        let response = try await client.execute(request, timeout: .milliseconds(max(1, timeout.milliseconds)))
        var body: [UInt8] = []
        var truncated = false
        for try await chunk in response.body {
            let room = maxBodyBytes - body.count
            if chunk.readableBytes > room {
                body += chunk.readableBytesView.prefix(room)
                truncated = true
                break  // leaving the body unread cancels the request and closes the connection
            }
            body += chunk.readableBytesView
        }
        return HTTPReply(
            status: Int(response.status.code), headers: response.headers, body: body, truncated: truncated,
            milliseconds: (ContinuousClock.now - start).fractionalMilliseconds)
    }

    /// BoringSSL's reason (`CERTIFICATE_VERIFY_FAILED` → "certificate verify failed") without the error
    /// codes and source paths its descriptions carry.
    static func tlsReason(_ error: any Error) -> String {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "certificate does not match the host name"
        }
        let text = "\(error)"
        let marker = "OPENSSL_internal:"
        if let range = text.range(of: marker) {
            let reason = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !reason.isEmpty { return reason.lowercased().split(separator: "_").joined(separator: " ") }
        }
        return String(text.prefix(200))
    }

    /// Sorts AsyncHTTPClient's, NIO's and BoringSSL's errors into the kinds a check reports.
    static func classify(_ error: any Error) -> HTTPFailure {
        if let failure = error as? HTTPFailure { return failure }
        if let error = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [
                .connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout, .tlsHandshakeTimeout,
                .getConnectionFromPoolTimeout,
            ]
            if timeouts.contains(error) { return HTTPFailure(.timeout, "timed out (\(error.shortDescription))") }
            if [.invalidURL, .emptyHost, .emptyScheme, .missingSocketPath].contains(error) {
                return HTTPFailure(.invalidURL, "cannot request this URL (\(error.shortDescription))")
            }
            return HTTPFailure(.connection, error.shortDescription)
        }
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return classify(first.error) }
            if error.dnsAError != nil || error.dnsAAAAError != nil {
                return HTTPFailure(.dns, "\(error.host) does not resolve")
            }
            return HTTPFailure(.connection, "cannot connect to \(error.host):\(error.port)")
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case ECONNREFUSED: return HTTPFailure(.refused, "connection refused")
            case ENOENT: return HTTPFailure(.socketMissing, "socket missing")
            case ETIMEDOUT: return HTTPFailure(.timeout, "connection timed out")
            case EACCES: return HTTPFailure(.connection, "permission denied on the socket")
            default: return HTTPFailure(.connection, "\(error)")
            }
        }
        if error is ChannelError, case .connectTimeout = error as! ChannelError {
            return HTTPFailure(.timeout, "connect timed out")
        }
        // Under TLS 1.3 a refused or unverifiable certificate can surface as BoringSSLError rather than
        // NIOSSLError.handshakeFailed: both are TLS failures.
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return HTTPFailure(.tls, "TLS: " + tlsReason(error))
        }
        if error is CancellationError { return HTTPFailure(.timeout, "cancelled") }
        return HTTPFailure(.connection, "\(error)")
    }
}
