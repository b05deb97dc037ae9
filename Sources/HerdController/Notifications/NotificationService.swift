import AsyncHTTPClient
import Foundation
import HerdProtocol
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// Sends the notifications the incident book queued, on the leader among replicas: each due one once
/// per sink, in order, off the ingest path. A failed delivery is retried with exponential backoff (5 s doubling to 10 min, ten
/// attempts, then `failed`); a notification whose incident is covered by a silence is `silenced`,
/// recorded in the incident's timeline, and not sent. A notification is marked `sent` only after a 2xx;
/// should the controller die between the receiver's 2xx and that mark, the retry carries the same
/// `Idempotency-Key`, by which the receiver can drop it.
public struct NotificationService: Service {
    let controller: Controller
    let poll: Duration

    public static let maxAttempts = 10

    public init(controller: Controller, poll: Duration = .seconds(1)) {
        self.controller = controller
        self.poll = poll
    }

    /// A client for one pass (created only when something is due, shut down at its end): no redirects,
    /// TLS 1.2+, system trust roots, bounded waits.
    private static func makeClient() -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5), read: .seconds(10)))
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        configuration.tlsConfiguration = tls
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    while controller.store.isLeader, try await deliverDue() > 0, !Task.isCancelled {}
                } catch {
                    controller.logger.error("notification pass failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: poll)
            }
        }
    }

    /// Sends what is due now; the number handled.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let now = controller.clock().timeIntervalSince1970
        let due = try await controller.store.dueNotifications(at: now)
        guard !due.isEmpty else { return 0 }
        let client = Self.makeClient()
        do {
            for notification in due { try await deliver(notification, client) }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        return due.count
    }

    private func deliver(_ notification: NotificationRecord, _ client: HTTPClient) async throws {
        let now = controller.clock().timeIntervalSince1970
        guard let hook = controller.configuration.webhooks[notification.sink] else {
            try await settle(notification, state: "failed", error: "no sink \(notification.sink) in controller.conf")
            return
        }
        if try await controller.store.silenceIfCovered(
            notification, at: now, engine: controller.configuration.patternEngine) != nil
        {
            return
        }
        guard let detail = try await controller.store.incident(id: notification.incidentID) else {
            try await settle(notification, state: "failed", error: "incident \(notification.incidentID) is gone")
            return
        }
        guard try await controller.store.claimNotification(notification.id, at: now) else { return }
        let body = NotificationBody.render(notification, detail, format: hook.format)
        var request = HTTPClientRequest(url: hook.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "herd-controller/\(HerdVersion.current)")
        request.headers.add(name: "Idempotency-Key", value: "herd-notification-\(notification.id)")
        request.body = .bytes(ByteBuffer(bytes: body))
        var failure: String?
        do {
            let response = try await client.execute(request, timeout: .seconds(15))
            _ = try? await response.body.collect(upTo: 64 << 10)
            if !(200..<300).contains(response.status.code) { failure = "HTTP \(response.status.code)" }
        } catch {
            failure = "\(error)"
        }
        if let failure {
            let attempts = notification.attempts + 1
            if attempts >= Self.maxAttempts {
                controller.metrics.notification(sink: notification.sink, outcome: "failed")
                controller.logger.error(
                    "notification failed for good",
                    metadata: [
                        "notification": "\(notification.id)", "sink": "\(notification.sink)", "error": "\(failure)",
                    ])
                try await settle(notification, state: "failed", error: failure)
                return
            }
            controller.metrics.notification(sink: notification.sink, outcome: "retrying")
            let backoff = min(600, 5 * pow(2, Double(attempts - 1))) * Double.random(in: 0.8...1.2)
            controller.logger.warning(
                "notification not delivered, retrying",
                metadata: [
                    "notification": "\(notification.id)", "sink": "\(notification.sink)", "error": "\(failure)",
                    "retry_in_s": "\(Int(backoff))",
                ])
            try await controller.store.retryNotification(
                notification.id, attempts: attempts, dueAt: now + backoff, error: failure)
            return
        }
        try await controller.store.notificationSent(notification.id, at: now)
        controller.metrics.notification(sink: notification.sink, outcome: "delivered")
        controller.logger.info(
            "notification sent",
            metadata: [
                "notification": "\(notification.id)", "incident": "\(notification.incidentID)",
                "transition": "\(notification.transition)", "sink": "\(notification.sink)",
            ])
    }

    private func settle(_ notification: NotificationRecord, state: String, error: String) async throws {
        try await controller.store.settleNotification(notification.id, state: state, error: error)
    }
}

/// What a webhook receives: Herd's own JSON, or a Slack/Mattermost-compatible `{"text": …}`.
enum NotificationBody {
    static func render(
        _ notification: NotificationRecord, _ detail: IncidentDetail, format: ControllerConfiguration.Webhook.Format
    )
        -> [UInt8]
    {
        let incident = IncidentRoutes.row(detail.incident)
        let members = detail.members.compactMap(\.instance)
        switch format {
        case .json:
            struct Body: Encodable {
                var notificationID: Int64
                var transition: String
                var incident: OperatorAPI.IncidentRow
                var members: [String]
                enum CodingKeys: String, CodingKey {
                    case notificationID = "notification_id"
                    case transition, incident, members
                }
            }
            return
                (try? JSONCodable.encode(
                    Body(
                        notificationID: notification.id, transition: notification.transition, incident: incident,
                        members: members))) ?? []
        case .slack:
            var lines = [
                "[\(incident.severity.uppercased())] \(notification.transition): #\(incident.id) \(incident.summary)"
            ]
            if !members.isEmpty {
                lines.append(
                    "\(members.count) instances: \(members.prefix(20).joined(separator: ", "))\(members.count > 20 ? ", …" : "")"
                )
            }
            if let diagnosis = incident.diagnosis, notification.transition != "resolved" {
                lines.append("Probable cause: \(diagnosis.cause)")
                lines.append("Next step: \(diagnosis.nextStep)")
                if let action = diagnosis.action { lines.append("Suggested remediation: \(action)") }
            }
            return (try? JSONCodable.encode(["text": lines.joined(separator: "\n")])) ?? []
        }
    }
}
