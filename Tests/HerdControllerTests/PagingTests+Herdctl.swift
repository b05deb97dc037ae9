import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

extension PagingTests {
    /// `herdctl notifications test ROUTE` against a real controller: each receiver of the route gets a
    /// test message now (a real SMTP server and a webhook), the answer says what each did, exit 1 when
    /// one failed; an unknown route is `not_found`; the test is audited.
    @Test func herdctlTestsARouteThroughARealSMTPServer() async throws {
        let directory = try TemporaryDirectory("herd-paging")
        defer { directory.remove() }
        let smtp = try await offThread { try SMTPServer(in: directory) }
        defer { smtp.stop() }
        let hook = try WebhookReceiver()
        let broken = try WebhookReceiver(failFirst: [503])
        defer { [hook, broken].forEach { $0.stop() } }
        try directory.write("smtp-ca.pem", smtp.caPEM)
        let running = try await ControllerServerTests.Running(settings: [
            "notify.email.mail = smtp://localhost:\(smtp.port)", "notify.email.mail.from = herd@example.net",
            "notify.email.mail.to = oncall@example.net", "notify.email.mail.username = herd",
            "notify.email.mail.password_file = \(try Self.secret(directory, "smtp-password", "s3cret"))",
            "notify.email.mail.ca_file = \(directory.file("smtp-ca.pem"))", "notify.webhook.hook = \(hook.url)",
            "notify.webhook.broken = \(broken.url)", "notify.route.1.match = severity>=critical",
            "notify.route.1.receivers = mail, hook", "notify.route.2.match = severity=warning",
            "notify.route.2.receivers = broken",
        ])
        do {
            let config = try running.herdctlConfig()
            let sent = try await BuiltProduct.runOffThread(
                "herdctl", ["notifications", "test", "1", "--config", config])
            #expect(sent.status == 0, "\(sent.output)")
            #expect(sent.output.contains("mail") && sent.output.contains("delivered"), "\(sent.output)")
            #expect(smtp.messages.count == 1)
            #expect(smtp.messages.first?.headers["subject"]?.contains("test: #0") == true)
            #expect(hook.accepted.count == 1 && hook.accepted[0].text.contains(#""transition":"test""#))

            let failed = try await BuiltProduct.runOffThread(
                "herdctl", ["notifications", "test", "2", "--json", "--config", config])
            #expect(failed.status == 1, "\(failed.output)")
            let answer = try JSONCodable.decode(OperatorAPI.NotificationTest.self, from: Array(failed.output.utf8))
            #expect(
                answer.receivers == [.init(receiver: "broken", kind: "webhook", delivered: false, error: "HTTP 503")])

            let unknown = try await BuiltProduct.runOffThread(
                "herdctl", ["notifications", "test", "7", "--config", config])
            #expect(unknown.status == 1 && unknown.output.contains("no route 7"), "\(unknown.output)")
            let hostile = try await BuiltProduct.runOffThread(
                "herdctl", ["notifications", "test", "1; rm -rf /", "--config", config])
            #expect(hostile.status == 2, "\(hostile.output)")
            let audit = try await running.controller.store.auditEntries(after: 0, limit: 100)
            #expect(audit.filter { $0.action == "notifications.test" }.map(\.subject) == ["route:1", "route:2"])
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }
}
