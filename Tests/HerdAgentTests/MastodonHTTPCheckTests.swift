import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// The HTTP check against a Mastodon stand-in (puma and streaming) behind a real nginx with TLS and
/// Mastodon's error pages, so 502/504 are nginx's own HTML answers and 500 is Rails' JSON.
@Suite(.serialized) struct MastodonHTTPCheckTests {
    /// A stand-in, nginx with TLS in front of it, and a certificate with `daysLeft`.
    final class Stack: @unchecked Sendable {
        let app: MastodonStandIn
        let nginx: NginxServer
        let certificates: TemporaryDirectory
        let ca: String

        init(daysLeft: Double = 90, backendPort: Int? = nil) throws {
            app = try MastodonStandIn()
            certificates = try TemporaryDirectory("herd-certs")
            let files = try TestCertificateAuthority().writeServer(
                names: ["social.test"], daysLeft: daysLeft, into: certificates)
            ca = files.ca
            nginx = try NginxServer(
                sites: [
                    .init(
                        backend: backendPort ?? app.port, streaming: app.port,
                        tls: (files.certificate, files.key))
                ])
        }

        func configure(_ c: inout AgentConfiguration) {
            c.httpWebURL = .url(BaseURL(app.baseURL)!)
            c.httpStreamingURLs = .urls([BaseURL(app.baseURL)!])
            c.httpPublicURL = .url(BaseURL("https://social.test:\(nginx.ports[0])")!)
            c.httpPublicAddress = "127.0.0.1"
            c.httpCAFile = ca
            c.serviceTimeout = .seconds(4)
            // These tests judge answers, not speed: on a loaded CI machine a loopback answer through nginx
            // has taken 2.7 s, past the default 2 s "slow" warning.
            c.httpLatencyWarning = .seconds(120)
        }

        func run(memory: CheckMemory = CheckMemory(), _ extra: (inout AgentConfiguration) -> Void = { _ in })
            async throws -> CheckOutcome
        {
            try await runServiceCheck(MastodonHTTPCheck(), env: ["LOCAL_DOMAIN": "social.test"], memory: memory) { c in
                configure(&c)
                extra(&c)
            }
        }

        deinit {
            app.stop()
            nginx.stop()
            certificates.remove()
        }
    }

    @Test func healthyInstanceThroughNginxWithTLS() async throws {
        let stack = try Stack()
        let outcome = try await stack.run()
        #expect(outcome.status == .ok, "\(outcome.summary)")
        #expect(outcome.metrics["web.direct.status"] == 200)
        #expect(outcome.metrics["web.public.status"] == 200)
        #expect(outcome.metrics["streaming.public.status"] == 200)
        #expect(outcome.metrics["readiness.status"] == 200)
        #expect(outcome.metrics["streaming.direct.up"] == 1)
        let days = try #require(outcome.metrics["certificate.days_left"])
        #expect(days > 89 && days <= 90)
        #expect(outcome.findings.isEmpty)
        // nginx really proxied them: the stand-in saw the public requests with nginx's Host.
        #expect(stack.app.requests.contains { $0.path == "/api/v1/instance" })
    }

    @Test func pumaDownBehindNginxIsNginxHTMLAndRefusedDirectly() async throws {
        let dead = try FreePort.next()
        let stack = try Stack(backendPort: dead)
        let outcome = try await stack.run { $0.httpWebURL = .url(BaseURL("http://127.0.0.1:\(dead)")!) }
        #expect(outcome.status == .critical)
        #expect(outcome.summary.contains("connection refused"), "\(outcome.summary)")
        #expect(outcome.summary.contains("502 (HTML from the proxy)"), "\(outcome.summary)")
        #expect(outcome.metrics["web.public.status"] == 502)
        #expect(outcome.findings.contains { $0.category == .upstreamUnreachable })
        // nginx wrote the real line the log checks read.
        let log = try String(contentsOfFile: stack.nginx.errorLog, encoding: .utf8)
        #expect(log.contains("Connection refused) while connecting to upstream"))
    }

    @Test func railsErrorIsJSONAndNotBlamedOnTheProxy() async throws {
        let stack = try Stack()
        stack.app.setFault("GET /api/v1/instance", .rails500)
        let outcome = try await stack.run()
        #expect(outcome.status == .critical)
        #expect(outcome.summary.contains("500 (JSON from Rails: Internal Server Error)"), "\(outcome.summary)")
        #expect(outcome.findings.map(\.signature).contains("readiness call: Rails error"))
        #expect(outcome.metrics["web.public.status"] == 200)
    }

    @Test func slowUpstreamIsNginx504() async throws {
        let stack = try Stack()  // nginx's proxy_read_timeout is 1 s
        stack.app.setFault("GET /api/v1/instance", .hang)
        let outcome = try await stack.run()
        #expect(outcome.status == .critical)
        #expect(outcome.metrics["readiness.status"] == 504)
        #expect(outcome.findings.contains { $0.category == .upstreamTimeout })
        #expect(outcome.summary.contains("504 (HTML from the proxy)"), "\(outcome.summary)")
    }

    @Test func proxyBrokenWhilePumaAnswersPointsAtTheProxy() async throws {
        let stack = try Stack()
        // Puma answers directly; the public side is a port where nothing listens.
        let dead = try FreePort.next()
        let outcome = try await stack.run {
            $0.httpPublicURL = .url(BaseURL("https://social.test:\(dead)")!)
        }
        #expect(outcome.status == .critical)
        #expect(outcome.summary.contains("puma answers directly: the proxy is at fault"), "\(outcome.summary)")
        #expect(outcome.findings.map(\.signature).contains("public /health fails, puma healthy"))
    }

    @Test(arguments: [(2.5, CheckStatus.critical), (10.5, .warning), (-3.5, .critical), (40, .ok)])
    func certificateExpiry(days: Double, expected: CheckStatus) async throws {
        let stack = try Stack(daysLeft: days)
        let outcome = try await stack.run()
        #expect(outcome.status == expected, "\(outcome.summary)")
        let left = try #require(outcome.metrics["certificate.days_left"])
        #expect(abs(left - days) < 0.2)
        if days < 0 {
            // Clients refuse it too: the public probes fail with a TLS error.
            #expect(outcome.summary.contains("expired 3 day(s) ago"), "\(outcome.summary)")
            #expect(
                outcome.findings.contains {
                    $0.category == .tlsError && $0.signature == "public /health fails, puma healthy"
                })
        } else if expected != .ok {
            #expect(outcome.findings.contains { $0.signature == "TLS certificate expiring" })
        }
    }

    @Test func aReplacedCertificateIsSeenAtTheNextCycle() async throws {
        let stack = try Stack(daysLeft: 40)
        let first = try await stack.run()
        #expect(first.status == .ok, "\(first.summary)")
        // The same address now serves a certificate that expires in two days (a renewal gone wrong).
        let port = stack.nginx.ports[0]
        stack.nginx.stop()
        let renewed = try TestCertificateAuthority().writeServer(
            names: ["social.test"], daysLeft: 2, into: stack.certificates)
        let nginx = try NginxServer(
            sites: [.init(backend: stack.app.port, streaming: stack.app.port, tls: (renewed.certificate, renewed.key))],
            ports: [port])
        defer { nginx.stop() }
        let second = try await stack.run(memory: first.memory ?? CheckMemory()) { $0.httpCAFile = renewed.ca }
        #expect(second.status == .critical, "\(second.summary)")
        let left = try #require(second.metrics["certificate.days_left"])
        #expect(abs(left - 2) < 0.2)
    }

    @Test func untrustedCertificateIsATLSFailure() async throws {
        let stack = try Stack()
        let outcome = try await stack.run { $0.httpCAFile = nil }
        #expect(outcome.status == .critical)
        #expect(outcome.findings.contains { $0.category == .tlsError })
        // The expiry is still read: judging trust is the public probes' job.
        #expect(outcome.metrics["certificate.days_left"] != nil)
    }

    @Test func oneStreamingProcessDownIsAWarning() async throws {
        let stack = try Stack()
        let dead = try FreePort.next()
        let outcome = try await stack.run {
            $0.httpStreamingURLs = .urls([BaseURL(stack.app.baseURL)!, BaseURL("http://127.0.0.1:\(dead)")!])
        }
        #expect(outcome.status == .warning, "\(outcome.summary)")
        #expect(outcome.metrics["streaming.direct.up"] == 1)
        #expect(outcome.metrics["streaming.direct.total"] == 2)
        #expect(outcome.summary.contains("streaming 1/2 up"))
    }

    // MARK: Hostile servers

    @Test(arguments: [
        ("hang", MastodonStandIn.Fault.hang), ("dribble", .dribble), ("10 MB", .huge(bytes: 10 << 20)), ("drop", .drop),
    ])
    func hostilePumaNeverHoldsTheCheck(name: String, fault: MastodonStandIn.Fault) async throws {
        let app = try MastodonStandIn()
        defer { app.stop() }
        app.setFault("GET /health", fault)
        let started = ContinuousClock.now
        let outcome = try await runServiceCheck(MastodonHTTPCheck(), env: [:]) { c in
            c.httpWebURL = .url(BaseURL(app.baseURL)!)
            c.httpStreamingURLs = .off
            c.httpPublicURL = .off
            // The 10 MB case is about the body limit, not the deadline: 800 ms could pass before the
            // first 256 KiB arrive on a machine busy with the rest of the suite.
            c.serviceTimeout = name == "10 MB" ? .seconds(5) : .milliseconds(800)
        }
        // Bounded by the service timeout, whatever the server does (a generous margin for a busy machine).
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(outcome.status == .critical, "\(name): \(outcome.summary)")
        switch name {
        case "hang", "dribble": #expect(outcome.summary.contains("no answer within 800 ms"), "\(outcome.summary)")
        case "10 MB": #expect(outcome.summary.contains("body over 256 KiB"), "\(outcome.summary)")
        default: #expect(outcome.summary.contains("web http://127.0.0.1"), "\(outcome.summary)")
        }
    }

    // MARK: Where it knocks

    @Test func endpointsFollowMastodonsEnvironment() async throws {
        // SOCKET → puma on a unix socket; STREAMING_API_BASE_URL → the public streaming name.
        let app = try MastodonStandIn()
        defer { app.stop() }
        let outcome = try await runServiceCheck(
            MastodonHTTPCheck(),
            env: [
                "LOCAL_DOMAIN": "social.test", "WEB_DOMAIN": "www.social.test", "SOCKET": "/run/mastodon/web.sock",
                "STREAMING_API_BASE_URL": "wss://streaming.social.test",
            ]
        ) { c in
            c.serviceTimeout = .milliseconds(500)
            c.httpStreamingURLs = .off
            c.httpPublicAddress = "127.0.0.1"
        }
        #expect(outcome.summary.contains("web unix:"), "\(outcome.summary)")
        #expect(outcome.summary.contains("/run/mastodon/web.sock"), "\(outcome.summary)")
        #expect(outcome.summary.contains("socket does not exist"), "\(outcome.summary)")
        #expect(outcome.summary.contains("web https://www.social.test"), "\(outcome.summary)")
        #expect(outcome.summary.contains("streaming https://streaming.social.test"), "\(outcome.summary)")
    }

    @Test func streamingPortsComeFromTheTemplateUnits() {
        #expect(MastodonEndpoints.streamingPort(unit: "mastodon-streaming@4001.service") == 4001)
        #expect(MastodonEndpoints.streamingPort(unit: "mastodon-streaming.service") == nil)
        #expect(MastodonEndpoints.streamingPort(unit: "mastodon-streaming@99999.service") == nil)
    }

    @Test func baseURLsAreStrict() {
        #expect(BaseURL("https://social.example")?.port == 443)
        #expect(BaseURL("http://127.0.0.1:3000/")?.description == "http://127.0.0.1:3000")
        #expect(BaseURL("https://[::1]:8443")?.host == "::1")
        for bad in [
            "ftp://x", "https://", "https://a/b", "https://a:0", "https://a:70000", "https://u@a", "https://a b",
            "https://a\r\nHost: b", "social.example",
        ] {
            #expect(BaseURL(bad) == nil, "\(bad)")
        }
    }
}
