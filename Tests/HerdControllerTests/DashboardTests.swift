import AsyncHTTPClient
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import NIOCore
import NIOHTTP1
import Testing

/// `herdctl dashboard` against a real controller, spoken to as a hostile page or process on the same
/// machine would: nothing without the session the one-time link gives, nothing under another Host
/// name, no form from another origin or without its token; the controller's text is escaped.
/// (The browser itself, and an approval made in it, are in HerdLabTests.)
@Suite(.serialized) struct DashboardTests {
    struct Answer {
        var status: Int
        var headers: HTTPHeaders
        var body: String
    }

    /// A client that shows redirects instead of following them.
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    static func fetch(
        _ url: String, method: HTTPMethod = .GET, cookie: String? = nil, host: String? = nil, origin: String? = nil,
        form: String? = nil
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let cookie { request.headers.add(name: "Cookie", value: cookie) }
        if let host { request.headers.replaceOrAdd(name: "Host", value: host) }
        if let origin { request.headers.add(name: "Origin", value: origin) }
        if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: form))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 8 << 20)
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    @Test func nothingWithoutTheSessionAndTheControllersTextEscaped() async throws {
        let running = try await ControllerServerTests.Running()
        do {
            let agent = try await ControllerServerTests.enroll(running, instance: "evil.example")
            var report = agent.report(sequence: 1)
            report.results = [
                CheckResult(
                    checkID: "services", status: .critical, summary: #"<script>alert("x")</script> failed"#,
                    durationMilliseconds: 1)
            ]
            _ = try await running.controller.store.write([
                AcceptedReport(agentID: agent.id, report: report, receivedAt: Date().timeIntervalSince1970)
            ])
            let config = try running.herdctlConfig()
            let dashboard = try await offThread { try DashboardProcess(config: config) }
            defer { dashboard.stop() }
            let login = dashboard.login
            let base = dashboard.base
            #expect(base.hasPrefix("http://127.0.0.1:"))

            #expect(try await Self.fetch(base + "/").status == 403)
            #expect(try await Self.fetch(base + "/login?token=" + String(repeating: "0", count: 64)).status == 403)
            // A page elsewhere that learnt the port cannot borrow the session under another name.
            let entered = try await Self.fetch(login, host: "evil.example:\(base.split(separator: ":").last!)")
            #expect(entered.status == 403)
            let session = try await Self.fetch(login)
            #expect(session.status == 303)
            let setCookie = try #require(session.headers.first(name: "Set-Cookie"))
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            let cookie = String(setCookie.split(separator: ";")[0])
            #expect(try await Self.fetch(login).status == 403)  // once only

            let fleet = try await Self.fetch(base + "/", cookie: cookie)
            #expect(fleet.status == 200 && fleet.body.contains("evil.example"))
            let policy = fleet.headers.first(name: "Content-Security-Policy") ?? ""
            #expect(policy.contains("default-src 'none'") && !policy.contains("script-src"))
            _ = try await running.controller.store.setOperatorAttributes(
                instance: "evil.example", set: ["plan": "pro"], remove: [], by: "admin")
            let pro = try await Self.fetch(base + "/?attribute=attribute.plan%3Dpro", cookie: cookie)
            #expect(pro.status == 200 && pro.body.contains("/instances/evil.example"))
            let free = try await Self.fetch(base + "/?attribute=attribute.plan%3Dfree", cookie: cookie)
            #expect(free.status == 200 && !free.body.contains("/instances/evil.example"))
            let bad = try await Self.fetch(base + "/?attribute=colour%3Dred", cookie: cookie)
            #expect(bad.status == 502 && bad.body.contains("attribute: NAME=VALUE"), "\(bad.body)")
            let instance = try await Self.fetch(base + "/instances/evil.example", cookie: cookie)
            #expect(instance.status == 200)
            #expect(instance.body.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; failed"))
            #expect(!instance.body.contains("<script"))
            #expect(try await Self.fetch(base + "/", cookie: cookie, host: "localhost.evil:80").status == 403)

            let approve = base + "/remediations/8b1cb33c-c368-4f68-9596-4a6b6810ef44/approve"
            #expect(try await Self.fetch(approve, method: .POST, cookie: cookie, form: "csrf=x&sha256=y").status == 403)
            #expect(
                try await Self.fetch(approve, method: .POST, cookie: cookie, origin: base, form: "csrf=x&sha256=y")
                    .status == 403)
            #expect(
                try await Self.fetch(
                    approve, method: .POST, cookie: cookie, origin: "http://evil.example", form: "csrf=x"
                )
                .status == 403)
            let missing = try await Self.fetch(base + "/incidents/999", cookie: cookie)
            #expect(missing.status == 502 && missing.body.contains("no incident 999"), "\(missing.body)")
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
        try await Self.client.shutdown()
    }
}
