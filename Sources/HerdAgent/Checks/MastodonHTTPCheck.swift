import FoundationEssentials
import HerdProtocol
import NIOHTTP1

/// Playbook step 1's other half, "is it up at all, and where does it break": web `/health` and
/// streaming `/api/v1/streaming/health` straight to puma and each streaming process, and again through
/// the public URL (nginx or a load balancer in between), a readiness call that touches PostgreSQL and
/// Redis (`GET /api/v1/instance`), latency, whether a 5xx came as HTML from the proxy or as JSON from
/// Rails, and the days left on the public name's certificate. Direct fine and public broken points at
/// the proxy; direct broken points at the application.
public struct MastodonHTTPCheck: Check {
    public let id = "mastodon.http"
    public let title = "Mastodon HTTP: /health direct and public, streaming health, readiness, TLS expiry"
    public let playbookStep = "1 · reproduce the error: is web up, and does it fail behind nginx or in Rails"

    /// Health answers are two bytes; readiness JSON is a few kilobytes. Anything beyond is not read.
    static let maxBodyBytes = 256 << 10

    public init() {}

    struct Probe: Sendable {
        enum Role: String, Sendable {
            case webDirect = "web.direct", webPublic = "web.public", streamingDirect = "streaming.direct",
                streamingPublic = "streaming.public", readiness
        }
        var role: Role
        var label: String
        var url: String
        var headers: HTTPHeaders = [:]
    }

    struct Answer: Sendable {
        var probe: Probe
        var result: Result<HTTPReply, HTTPFetchError>
    }

    public func run(in context: CheckContext) async throws -> CheckOutcome {
        guard let env = context.mastodon.env else {
            return .unknown("cannot read \(context.mastodon.envProblem ?? context.mastodon.envFile)")
        }
        let configuration = context.configuration
        let streamingPorts = await Self.streamingPorts(context)
        let endpoints = MastodonEndpoints.resolve(
            configuration, env: env.values, streamingPorts: streamingPorts,
            resolvePath: context.filesystem.resolve)
        let probes = Self.probes(endpoints)
        guard !probes.isEmpty else {
            return .unknown("no URL to probe: http.web_url, streaming and public URL are off")
        }

        let timeout = min(configuration.serviceTimeout, context.remaining)
        let fetcher: HTTPFetcher
        do {
            var override: [String: String] = [:]
            if let host = endpoints.publicBase?.host, let address = configuration.httpPublicAddress {
                override[host] = address
            }
            fetcher = try HTTPFetcher.shared(
                caFile: configuration.httpCAFile, dnsOverride: override, connectTimeout: configuration.serviceTimeout)
        } catch {
            return .unknown(error.description)
        }
        // The certificate is read by a handshake of its own every cycle (~1 ms of CPU): a certificate
        // replaced by one about to expire is seen at the next cycle, not when a cache runs out.
        async let certificate = Self.certificateExpiry(endpoints, configuration: configuration, timeout: timeout)
        let answers = await withTaskGroup(of: (Int, Answer).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask {
                    let result = await fetcher.fetch(
                        .GET, probe.url, headers: probe.headers, timeout: timeout, maxBodyBytes: Self.maxBodyBytes)
                    return (index, Answer(probe: probe, result: result))
                }
            }
            var answers: [(Int, Answer)] = []
            for await answer in group { answers.append(answer) }
            return answers.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let expiry = await certificate
        return Self.evaluate(answers, certificate: expiry, now: context.now, configuration: configuration)
    }

    static func probes(_ endpoints: MastodonEndpoints) -> [Probe] {
        var probes: [Probe] = []
        // Rails' host authorization and force_ssl both exempt /health, so a bare request suffices.
        if let web = endpoints.webDirect {
            probes.append(Probe(role: .webDirect, label: "web \(displayName(web))", url: web + "/health"))
        }
        for streaming in endpoints.streamingDirect {
            probes.append(
                Probe(
                    role: .streamingDirect, label: "streaming \(displayName(streaming))",
                    url: streaming + "/api/v1/streaming/health"))
        }
        if let base = endpoints.publicBase {
            probes.append(Probe(role: .webPublic, label: "web \(base)", url: base.description + "/health"))
            if let streaming = endpoints.publicStreaming {
                probes.append(
                    Probe(
                        role: .streamingPublic, label: "streaming \(streaming)",
                        url: streaming.description + "/api/v1/streaming/health"))
            }
            var headers = HTTPHeaders()
            headers.add(name: "Accept", value: "application/json")
            probes.append(
                Probe(
                    role: .readiness, label: "GET /api/v1/instance", url: base.description + "/api/v1/instance",
                    headers: headers))
        } else if let web = endpoints.webDirect, let domain = endpoints.domain {
            // No public URL: ask puma itself, as nginx would (its Host, and HTTPS already terminated).
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: domain)
            headers.add(name: "X-Forwarded-Proto", value: "https")
            headers.add(name: "Accept", value: "application/json")
            probes.append(
                Probe(role: .readiness, label: "GET /api/v1/instance", url: web + "/api/v1/instance", headers: headers))
        }
        return probes
    }

    /// `http+unix://%2Frun%2Fmastodon%2Fweb.sock` → `unix:/run/mastodon/web.sock`.
    static func displayName(_ url: String) -> String {
        guard url.hasPrefix("http+unix://") else { return url }
        var bytes: [UInt8] = []
        var iterator = Array(url.utf8.dropFirst("http+unix://".count))[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return "unix:" + String(decoding: bytes, as: UTF8.self)
    }

    static func streamingPorts(_ context: CheckContext) async -> [Int] {
        guard context.configuration.httpStreamingURLs == .auto else { return [] }
        let systemd = context.host.systemd
        let pattern = context.configuration.streamingUnits
        let remaining = context.remaining
        let units = (try? await HostThread.run { try? systemd.listUnits(matching: pattern, timeout: remaining) }) ?? nil
        return (units ?? []).compactMap(MastodonEndpoints.streamingPort)
    }

    static func certificateExpiry(_ endpoints: MastodonEndpoints, configuration: AgentConfiguration, timeout: Duration)
        async -> Result<Date, HTTPFetchError>?
    {
        guard let base = endpoints.publicBase, base.scheme == "https" else { return nil }
        do {
            return .success(
                try await CertificateProbe.read(
                    host: base.host, port: base.port, address: configuration.httpPublicAddress, timeout: timeout))
        } catch {
            return .failure(error)
        }
    }

    // MARK: Judging the answers

    static func evaluate(
        _ answers: [Answer], certificate: Result<Date, HTTPFetchError>?, now: Date, configuration: AgentConfiguration
    ) -> CheckOutcome {
        var status = CheckStatus.ok
        var problems: [String] = []
        var findings: [Finding] = []
        var metrics: [String: Double] = [:]
        func raise(_ level: CheckStatus, _ text: String, _ category: FindingCategory, _ signature: String) {
            if level > status { status = level }
            problems.append(text)
            if findings.count < Limits.maxFindingsPerResult {
                findings.append(Finding(category: category, signature: signature, count: 1, sample: text))
            }
        }
        let slow = configuration.httpLatencyWarning.fractionalMilliseconds

        func judge(_ answer: Answer) -> (ok: Bool, text: String) {
            switch answer.result {
            case .failure(let failure):
                return (false, "\(answer.probe.label): \(failure.description)")
            case .success(let reply):
                // A health answer is two bytes and readiness JSON a few kilobytes: more is not a healthy answer.
                let ok = reply.status == 200 && !reply.truncated && (answer.probe.role != .readiness || reply.isJSON)
                return (ok, "\(answer.probe.label): \(describe(reply))")
            }
        }

        var webDirectOK: Bool?
        var streamingDirect: (up: Int, total: Int) = (0, 0)
        for (index, answer) in answers.enumerated() {
            let (ok, text) = judge(answer)
            let key = answer.probe.role == .streamingDirect ? "streaming.direct.\(index)" : answer.probe.role.rawValue
            if case .success(let reply) = answer.result {
                metrics["\(key).status"] = Double(reply.status)
                metrics["\(key).latency_ms"] = (reply.milliseconds * 10).rounded() / 10
            }
            switch answer.probe.role {
            case .webDirect:
                webDirectOK = ok
                if !ok {
                    raise(
                        .critical, text, category(answer.result, direct: true),
                        "Mastodon web /health failed on puma")
                }
            case .streamingDirect:
                streamingDirect.total += 1
                if ok { streamingDirect.up += 1 } else { problems.append(text) }
            case .webPublic:
                if !ok {
                    let blame = webDirectOK == true ? " (puma answers directly: the proxy is at fault)" : ""
                    raise(
                        .critical, text + blame, category(answer.result, direct: false),
                        webDirectOK == true ? "public /health fails, puma healthy" : "public /health failed")
                }
            case .streamingPublic:
                if !ok {
                    raise(
                        .warning, text, category(answer.result, direct: false),
                        "public streaming health failed")
                }
            case .readiness:
                if !ok {
                    raise(.critical, text, category(answer.result, direct: false), readinessSignature(answer.result))
                }
            }
            if ok, case .success(let reply) = answer.result, reply.milliseconds >= slow {
                raise(
                    .warning, "\(answer.probe.label) took \(Int(reply.milliseconds)) ms", .upstreamTimeout,
                    "slow Mastodon HTTP answer")
            }
        }
        if streamingDirect.total > 0 {
            metrics["streaming.direct.up"] = Double(streamingDirect.up)
            metrics["streaming.direct.total"] = Double(streamingDirect.total)
            if streamingDirect.up < streamingDirect.total {
                // Web falls back to polling without streaming: degraded, not down.
                let level: CheckStatus = .warning
                if level > status { status = level }
                if findings.count < Limits.maxFindingsPerResult {
                    findings.append(
                        Finding(
                            category: .upstreamUnreachable, signature: "streaming process not answering",
                            count: UInt64(streamingDirect.total - streamingDirect.up),
                            sample:
                                "\(streamingDirect.total - streamingDirect.up) of \(streamingDirect.total) streaming processes down"
                        ))
                }
            }
        }

        var certificateText: String?
        switch certificate {
        case .none: break
        case .failure(let failure):
            // The public probes already say whether the name is reachable; this only loses the expiry.
            certificateText = "certificate unread (\(failure.description))"
        case .success(let notAfter):
            let days = notAfter.timeIntervalSince(now) / 86_400
            metrics["certificate.days_left"] = (days * 10).rounded(.down) / 10
            let whole = Int(days.rounded(.down))
            if days < 0 {
                raise(
                    .critical, "certificate expired \(Int((-days).rounded(.down))) day(s) ago", .tlsError,
                    "TLS certificate expired")
            } else if days < Double(configuration.certificateCriticalDays) {
                raise(.critical, "certificate expires in \(whole) day(s)", .tlsError, "TLS certificate expiring")
            } else if days < Double(configuration.certificateWarningDays) {
                raise(.warning, "certificate expires in \(whole) day(s)", .tlsError, "TLS certificate expiring")
            } else {
                certificateText = "certificate \(whole) days left"
            }
        }

        var parts: [String] = []
        for answer in answers where answer.probe.role != .streamingDirect {
            if case .success(let reply) = answer.result {
                parts.append("\(answer.probe.role.rawValue) \(reply.status) in \(Int(reply.milliseconds.rounded())) ms")
            } else {
                parts.append("\(answer.probe.role.rawValue) no answer")
            }
        }
        if streamingDirect.total > 0 { parts.append("streaming \(streamingDirect.up)/\(streamingDirect.total) up") }
        if let certificateText { parts.append(certificateText) }
        var summary = parts.joined(separator: ", ")
        if !problems.isEmpty { summary = problems.joined(separator: "; ") + " — " + summary }
        return CheckOutcome(status, summary, metrics: metrics, findings: findings)
    }

    /// `502 (HTML from the proxy)`, `500 (JSON from Rails: Internal Server Error)`, `301 to https://…`.
    static func describe(_ reply: HTTPReply) -> String {
        var text = String(reply.status)
        if reply.status >= 500 {
            if reply.isHTML {
                text += " (HTML from the proxy)"
            } else if reply.isJSON {
                text += " (JSON from Rails" + (reply.errorMessage.map { ": \($0.prefix(120))" } ?? "") + ")"
            }
        } else if (300..<400).contains(reply.status), let location = reply.header("location") {
            text += " to \(location.prefix(200))"
        } else if reply.status == 200, !reply.isJSON {
            text += " (\(reply.mediaType.isEmpty ? "no type" : reply.mediaType), not JSON)"
        }
        if reply.truncated { text += ", body over \(maxBodyBytes >> 10) KiB" }
        return text
    }

    /// nginx's own 502 means nothing listens behind it, its 504 that the upstream is too slow; a
    /// connection failure straight to puma is an unreachable upstream as well.
    static func category(_ result: Result<HTTPReply, HTTPFetchError>, direct: Bool) -> FindingCategory {
        switch result {
        case .failure(let failure):
            switch failure.kind {
            case .tls: return .tlsError
            case .timeout: return .upstreamTimeout
            default: return .upstreamUnreachable
            }
        case .success(let reply):
            switch reply.status {
            case 504: return .upstreamTimeout
            case 502, 503: return .upstreamUnreachable
            default: return .other
            }
        }
    }

    static func readinessSignature(_ result: Result<HTTPReply, HTTPFetchError>) -> String {
        guard case .success(let reply) = result else { return "readiness call got no answer" }
        if reply.status >= 500 {
            return reply.isJSON ? "readiness call: Rails error" : "readiness call: proxy error page"
        }
        return "readiness call failed"
    }
}
