import AsyncHTTPClient
import HerdProtocol
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(Glibc)
    import Glibc
#endif

/// Why an HTTP request got no answer, sorted the way the HTTP checks report it.
public struct HTTPFetchError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        /// Nothing listens there (ECONNREFUSED).
        case refused
        /// The unix socket does not exist.
        case socketMissing = "socket_missing"
        /// The socket exists but the agent's user may not connect to it.
        case permissionDenied = "permission_denied"
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
    ///   - idleTimeout: how long an idle kept-alive connection stays open.
    public init(
        caFile: String? = nil, dnsOverride: [String: String] = [:], connectTimeout: Duration,
        idleTimeout: Duration = .seconds(60)
    ) throws(HTTPFetchError) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let roots = Self.systemRoots { tls.trustRoots = .certificates(roots) }
        if let caFile {
            tls.additionalTrustRoots = [.file(caFile)]
            do {
                _ = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw HTTPFetchError(.invalidURL, "cannot read the CA file \(caFile): \(error)")
            }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(max(1, connectTimeout.milliseconds))))
        configuration.dnsOverride = dnsOverride
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        configuration.decompression = .disabled
        configuration.connectionPool.idleTimeout = .milliseconds(max(1, idleTimeout.milliseconds))
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    /// The system's trust roots, parsed once for every client: each TLS context holds references to
    /// these certificates instead of parsing the bundle again. A host with several instances has a
    /// client per instance (its own CA file or address), and a parsed bundle each was most of their
    /// memory (BENCHMARKS.md, "One agent for a host's instances"). Nil where no bundle file is found:
    /// NIOSSL's own default then.
    static let systemRoots: [NIOSSLCertificate]? = {
        for bundle in [
            "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
            "/etc/ssl/cert.pem",
        ] {
            if let roots = try? NIOSSLCertificate.fromPEMFile(bundle), !roots.isEmpty { return roots }
        }
        return nil
    }()

    private struct Key: Hashable {
        var caFile: String?
        var dnsOverride: [String: String]
        var connectTimeout: Duration
    }

    private static let kept = NIOLockedValueBox<[Key: HTTPFetcher]>([:])

    /// The client the checks share for the agent's life, one per set of TLS and address settings. A
    /// new client per cycle would pay a TLS handshake per request (about 14 ms of CPU here, against
    /// 0.6 ms on a kept connection: BENCHMARKS.md); idle connections live 90 s, past one default cycle,
    /// and nginx keeps them 75 s. Never shut down.
    public static func shared(caFile: String?, dnsOverride: [String: String], connectTimeout: Duration)
        throws(HTTPFetchError) -> HTTPFetcher
    {
        let key = Key(caFile: caFile, dnsOverride: dnsOverride, connectTimeout: connectTimeout)
        if let fetcher = kept.withLockedValue({ $0[key] }) { return fetcher }
        let fetcher = try HTTPFetcher(
            caFile: caFile, dnsOverride: dnsOverride, connectTimeout: connectTimeout, idleTimeout: .seconds(90))
        return kept.withLockedValue { cache in
            if let existing = cache[key] {
                Task { await fetcher.shutdown() }
                return existing
            }
            cache[key] = fetcher
            return fetcher
        }
    }

    public func shutdown() async {
        try? await client.shutdown()
    }

    /// One request, answered or failed within `timeout`; never throws.
    public func fetch(
        _ method: HTTPMethod, _ url: String, headers: HTTPHeaders = [:], body: [UInt8]? = nil, timeout: Duration,
        maxBodyBytes: Int = 64 << 10
    ) async -> Result<HTTPReply, HTTPFetchError> {
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
                    throw HTTPFetchError(.timeout, "no answer within \(timeout.milliseconds) ms")
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

    /// Sorts AsyncHTTPClient's, NIO's and BoringSSL's errors into the kinds a check reports.
    static func classify(_ error: any Error) -> HTTPFetchError {
        if let failure = error as? HTTPFetchError { return failure }
        if let error = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [
                .connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout, .tlsHandshakeTimeout,
                .getConnectionFromPoolTimeout,
            ]
            if timeouts.contains(error) { return HTTPFetchError(.timeout, "timed out (\(error.shortDescription))") }
            if [.invalidURL, .emptyHost, .emptyScheme, .missingSocketPath].contains(error) {
                return HTTPFetchError(.invalidURL, "cannot request this URL (\(error.shortDescription))")
            }
            return HTTPFetchError(.connection, error.shortDescription)
        }
        if let failure = NetworkFailure.classify(error) {
            return HTTPFetchError(HTTPFetchError.Kind(rawValue: failure.kind.rawValue) ?? .connection, failure.detail)
        }
        if error is CancellationError { return HTTPFetchError(.timeout, "cancelled") }
        return HTTPFetchError(.connection, "\(error)")
    }
}
