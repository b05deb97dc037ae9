import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// Debian's nginx, started on loopback in front of a backend port nothing listens on (site 0) and a
/// backend that accepts and never answers (site 1): the error.log and access.log nginx itself writes
/// are what the nginx checks classify.
@Suite(.serialized) struct RealNginxTests {
    @Test func classifiesTheErrorsNginxWrites() async throws {
        let hanging = try SilentListener()
        let closed = try FreePort.next()
        let nginx = try NginxServer(sites: [
            .init(backend: closed, streaming: closed), .init(backend: hanging.port, streaming: closed),
        ])
        defer { nginx.stop() }
        var configuration = AgentConfiguration()
        configuration.nginxErrorLog = nginx.errorLog
        configuration.nginxAccessLog = nginx.accessLog
        let runner = CheckRunner(
            checks: [NginxErrorLogCheck(), NginxAccessLogCheck()], host: .live(configuration),
            configuration: configuration, store: EphemeralMemoryStore(), signatures: SignatureMatcher(table: .builtIn))
        // The first cycle takes in the readiness probe's lines; the requests below are new after it.
        _ = await runner.runCycle()

        #expect(HTTPProbe.status(port: nginx.ports[0], method: "POST", path: "/api/v1/statuses") == 502)
        #expect(HTTPProbe.status(port: nginx.ports[0], method: "GET", path: "/api/v1/timelines/home") == 502)
        #expect(HTTPProbe.status(port: nginx.ports[0], method: "GET", path: "/api/v1/streaming/?stream=user") == 502)
        #expect(HTTPProbe.status(port: nginx.ports[1], method: "POST", path: "/api/v1/statuses") == 504)

        let results = await runner.runCycle()
        let errors = try #require(results.first)
        let m = errors.metrics
        #expect(m["backend.upstream_unreachable"] == 2, "\(errors.summary)")
        #expect(m["streaming.upstream_unreachable"] == 1)
        #expect(m["backend.upstream_timeout"] == 1)
        #expect(m["posting.upstream_unreachable"] == 1)
        #expect(m["posting.upstream_timeout"] == 1)
        #expect(
            errors.findings.contains {
                $0.category == .upstreamUnreachable && $0.signature == "upstream connection refused"
            })
        #expect(errors.findings.contains { $0.category == .upstreamTimeout })
        #expect(errors.status == .warning)

        let access = try #require(results.last)
        #expect(access.metrics["status_502"] == 3)
        #expect(access.metrics["status_504"] == 1)
        #expect(access.metrics["posting.requests"] == 2)
        #expect(access.metrics["posting.status_5xx"] == 2)

        // The next cycle reads only what is new.
        #expect(HTTPProbe.status(port: nginx.ports[0], method: "GET", path: "/about") == 502)
        let again = await runner.runCycle()
        #expect(again[0].metrics["backend.upstream_unreachable"] == 1)
        #expect(again[1].metrics["requests"] == 1)
    }
}
