import AsyncHTTPClient
import Foundation
import HerdProtocol
import Logging
import NIOCore
import NIOHTTP1
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
    static func makeClient() -> HTTPClient {
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

    /// Queues the repeats that are due, then sends what is due now; the number of notifications handled.
    /// Several of one instance's openings due for one receiver at once (`notify.digest_min` or more) go as
    /// one digest, except to PagerDuty, which keys each incident apart.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let now = controller.clock().timeIntervalSince1970
        let routing = controller.configuration.notify
        try await controller.store.queueRepeats(at: now, routing: routing)
        let due = try await controller.store.dueNotifications(at: now)
        guard !due.isEmpty else { return 0 }
        var ready: [(notification: NotificationRecord, detail: IncidentDetail)] = []
        for notification in due {
            guard routing.receivers[notification.sink] != nil else {
                try await settle(
                    notification, state: "failed", error: "no receiver \(notification.sink) in controller.conf")
                continue
            }
            if try await controller.store.silenceIfCovered(
                notification, at: now, engine: controller.configuration.patternEngine) != nil
            {
                continue
            }
            guard let detail = try await controller.store.incident(id: notification.incidentID) else {
                try await settle(notification, state: "failed", error: "incident \(notification.incidentID) is gone")
                continue
            }
            ready.append((notification, detail))
        }
        let client = Self.makeClient()
        do {
            for (sink, batch) in Self.messages(ready, routing: routing) {
                try await deliver(batch, to: sink, routing.receivers[sink]!, client)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        try? await client.shutdown()
        return due.count
    }

    /// The messages for `ready`, in order: per receiver, the openings of one instance together when
    /// there are at least `digestMinimum` of them, everything else one by one.
    static func messages(
        _ ready: [(notification: NotificationRecord, detail: IncidentDetail)], routing: NotificationRouting
    ) -> [(sink: String, batch: [(notification: NotificationRecord, detail: IncidentDetail)])] {
        var out: [(String, [(notification: NotificationRecord, detail: IncidentDetail)])] = []
        // Openings per receiver and instance; then where each digest's message is in `out`.
        var groups: [String: Int] = [:]
        var digests: [String: Int] = [:]
        for item in ready {
            let sink = item.notification.sink
            let incident = item.detail.incident
            if item.notification.transition == "opened", incident.kind == "instance", let instance = incident.instance,
                routing.receivers[sink]?.kind != .pagerduty
            {
                groups["\(sink) \(instance)", default: 0] += 1
            }
        }
        for item in ready {
            let sink = item.notification.sink
            let incident = item.detail.incident
            if item.notification.transition == "opened", incident.kind == "instance", let instance = incident.instance,
                let count = groups["\(sink) \(instance)"], count >= routing.digestMinimum
            {
                let key = "\(sink) \(instance)"
                if let index = digests[key] {
                    out[index].1.append(item)
                } else {
                    digests[key] = out.count
                    out.append((sink, [item]))
                }
                continue
            }
            out.append((sink, [item]))
        }
        return out
    }

    /// One message to one receiver: each notification claimed first (one not claimed — another sender
    /// has it, or it is no longer pending — is left out), then sent; each marked sent, or retried with
    /// backoff, or failed for good after `maxAttempts`.
    private func deliver(
        _ batch: [(notification: NotificationRecord, detail: IncidentDetail)], to sink: String,
        _ receiver: NotificationRouting.Receiver, _ client: HTTPClient
    ) async throws {
        let now = controller.clock().timeIntervalSince1970
        var claimed: [(notification: NotificationRecord, detail: IncidentDetail)] = []
        for item in batch where try await controller.store.claimNotification(item.notification.id, at: now) {
            claimed.append(item)
        }
        guard let first = claimed.first else { return }
        let message =
            claimed.count == 1
            ? NotificationMessage.single(first.notification, first.detail)
            : NotificationMessage.digest(claimed.map(\.notification), claimed.map(\.detail))
        if let failure = await Self.send(message, to: receiver, client: client, date: controller.clock()) {
            for (notification, _) in claimed {
                let attempts = notification.attempts + 1
                if attempts >= Self.maxAttempts {
                    controller.metrics.notification(sink: sink, outcome: "failed")
                    controller.logger.error(
                        "notification failed for good",
                        metadata: ["notification": "\(notification.id)", "sink": "\(sink)", "error": "\(failure)"])
                    try await settle(notification, state: "failed", error: failure)
                    continue
                }
                controller.metrics.notification(sink: sink, outcome: "retrying")
                let backoff = min(600, 5 * pow(2, Double(attempts - 1))) * Double.random(in: 0.8...1.2)
                controller.logger.warning(
                    "notification not delivered, retrying",
                    metadata: [
                        "notification": "\(notification.id)", "sink": "\(sink)", "error": "\(failure)",
                        "retry_in_s": "\(Int(backoff))",
                    ])
                try await controller.store.retryNotification(
                    notification.id, attempts: attempts, dueAt: now + backoff, error: failure)
            }
            return
        }
        for (notification, _) in claimed {
            try await controller.store.notificationSent(notification.id, at: now)
            controller.metrics.notification(sink: sink, outcome: "delivered")
            controller.logger.info(
                "notification sent",
                metadata: [
                    "notification": "\(notification.id)", "incident": "\(notification.incidentID)",
                    "transition": "\(notification.transition)", "sink": "\(sink)",
                    "digest": "\(message.isDigest)",
                ])
        }
    }

    private func settle(_ notification: NotificationRecord, state: String, error: String) async throws {
        try await controller.store.settleNotification(notification.id, state: state, error: error)
    }

    /// Sends `message` through `receiver`: nil when it was taken (a 2xx, or the SMTP server's 250), else
    /// why not — the receiver's status or error, never a secret.
    static func send(
        _ message: NotificationMessage, to receiver: NotificationRouting.Receiver, client: HTTPClient, date: Date
    ) async -> String? {
        do {
            switch receiver.kind {
            case .webhook:
                return try await post(
                    receiver.url, body: receiver.format == .slack ? message.slack() : message.json(), key: message.key,
                    client: client)
            case .pagerduty:
                let routingKey = try secret(receiver.secretFile)
                for event in message.pagerDuty(routingKey: routingKey) {
                    if let failure = try await post(receiver.url, body: event, key: message.key, client: client) {
                        return failure
                    }
                }
                return nil
            case .matrix:
                let token = try secret(receiver.secretFile)
                let room = (receiver.room ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let base = receiver.url.hasSuffix("/") ? String(receiver.url.dropLast()) : receiver.url
                return try await post(
                    "\(base)/_matrix/client/v3/rooms/\(room)/send/m.room.message/\(message.key)", method: .PUT,
                    body: message.matrix(), key: message.key, bearer: token, client: client)
            case .email:
                guard let (host, port) = ControllerConfiguration.smtpAddress(receiver.url), let from = receiver.from
                else {
                    return "not an smtp://HOST:PORT receiver"
                }
                let server = SMTPClient.Server(
                    host: host, port: port, startTLS: receiver.startTLS,
                    trustPEM: try receiver.caFile.map { try SecureFile.readText($0) },
                    credentials: try receiver.username.map { ($0, try secret(receiver.secretFile)) })
                let sent = try await withDeadline(.seconds(60)) {
                    try await SMTPClient.send(
                        message.email(from: from, to: receiver.to, date: date), from: from, to: receiver.to, via: server
                    )
                    return true
                }
                return sent == nil ? "the SMTP server did not finish within 60 s" : nil
            }
        } catch {
            return "\(error)".escapingControlCharacters
        }
    }

    /// A secret's file (a routing key, an access token, a password): read at each use, so that rotating
    /// it needs no restart; only its owner may read it.
    static func secret(_ file: String?) throws -> String {
        guard let file else { throw SMTPError(description: "no secret file configured") }
        return try SecureFile.readText(file, maxBytes: 4096, private: true).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    /// POSTs (or PUTs) JSON: nil on a 2xx, else the status.
    static func post(
        _ url: String, method: HTTPMethod = .POST, body: [UInt8], key: String, bearer: String? = nil,
        client: HTTPClient
    ) async throws -> String? {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "herd-controller/\(HerdVersion.current)")
        request.headers.add(name: "Idempotency-Key", value: key)
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: .seconds(15))
        _ = try? await response.body.collect(upTo: 64 << 10)
        return (200..<300).contains(response.status.code) ? nil : "HTTP \(response.status.code)"
    }
}
