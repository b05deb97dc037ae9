import Foundation
import HerdProtocol
import HerdTestSupport
import Logging
import Synchronization
import Testing

@testable import HerdController

/// Notifications end to end on loopback: incidents from synthetic report streams through the store, the
/// notifier's real HTTP client, and real webhook receivers — one that fails twice first (Herd JSON), one
/// Slack/Mattermost-compatible. The controller's clock is moved by hand, so nothing waits.
@Suite struct NotificationTests {
    final class Clock: Sendable {
        let now = Mutex(PatternTests.t0)
        func set(minute: Double) { now.withLock { $0 = PatternTests.t0 + minute * 60 } }
        var date: Date { Date(timeIntervalSince1970: now.withLock { $0 }) }
    }

    /// A controller on `fleet`'s store with `configuration`, on a clock the test moves, and its notifier.
    static func notifier(_ configuration: ControllerConfiguration, _ fleet: StoreTests.Fleet) -> (
        NotificationService, Clock
    ) {
        let clock = Clock()
        let controller = Controller(
            configuration: configuration, store: fleet.store, ca: fleet.ca, logger: Logger(label: "test"),
            clock: { clock.date })
        return (NotificationService(controller: controller), clock)
    }

    @Test(arguments: StoreKind.allCases) func deliveredOncePerTransitionGroupedRetriedAndSilenced(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let ops = try WebhookReceiver(failFirst: [503, 503])
        let chat = try WebhookReceiver()
        defer {
            ops.stop()
            chat.stop()
        }
        var configuration = try ControllerConfiguration.parse(
            """
            notify.webhook.ops = \(ops.url)
            notify.webhook.chat = \(chat.url)
            notify.webhook.chat.format = slack
            notify.group_wait = 30s
            """, source: "test", dataDirectory: fleet.directory.path)
        configuration.patterns.fleet.minInstances = 3
        let (notifier, clock) = NotificationTests.notifier(configuration, fleet)
        let engine = configuration.patternEngine

        // Three instances behind one endpoint lose their object storage; a fourth loses Sidekiq.
        var streams: [PatternTests.Stream] = []
        for index in 0..<6 {
            streams.append(
                try await PatternTests.stream(
                    fleet, "i\(index).example",
                    host: HostFacts(
                        hostname: "h", mastodonVersion: "4.3.2",
                        objectStorageEndpoint: index < 4 ? "s3.a.example" : "s3.b.example")))
        }
        let storage = Finding(
            category: .objectStorage, signature: "Storage server error", count: 1, sample: nil)
        for minute in 0..<4 {
            for index in streams.indices {
                let result: CheckResult =
                    switch index {
                    case 0, 1, 2: PatternTests.result("logs", .warning, findings: [storage])
                    case 5: PatternTests.result("sidekiq", .critical, metrics: ["processes.live": 0])
                    default: PatternTests.result("logs", .ok)
                    }
                try await streams[index].send([result], at: minute, engine: engine)
            }
        }
        // The incidents opened at minute 2: nothing is due before the group wait.
        clock.set(minute: 2.25)
        #expect(try await notifier.deliverDue() == 0)
        #expect(ops.deliveries.isEmpty && chat.deliveries.isEmpty)

        // After it: one page for the fleet incident, one for Sidekiq — per sink; the members' are suppressed.
        clock.set(minute: 3)
        #expect(try await notifier.deliverDue() == 4)
        #expect(chat.accepted.count == 2)
        #expect(chat.deliveries.allSatisfy { $0.text.hasPrefix(#"{"text":"#) })
        #expect(
            chat.deliveries.contains {
                $0.text.contains("object_storage on 3 instances") || $0.text.contains("3 instances")
            })
        #expect(ops.deliveries.count == 2 && ops.accepted.isEmpty)  // 503, 503: to be retried

        // Retries with backoff until delivered; the same key every time, and nothing twice.
        for step in 1...20 where ops.accepted.count < 2 {
            clock.set(minute: 3 + Double(step))
            try await notifier.deliverDue()
        }
        #expect(ops.accepted.count == 2)
        let keys = ops.accepted.compactMap(\.idempotencyKey)
        #expect(Set(keys).count == 2)
        #expect(Set(ops.deliveries.compactMap(\.idempotencyKey)) == Set(keys))
        let before = (ops.deliveries.count, chat.deliveries.count)
        clock.set(minute: 30)
        #expect(try await notifier.deliverDue() == 0)
        #expect((ops.deliveries.count, chat.deliveries.count) == before)
        let opened = try #require(ops.accepted.first { $0.text.contains(#""kind":"fleet""#) })
        #expect(opened.text.contains(#""transition":"opened""#) && opened.text.contains("i0.example"))
        // Instants as the operator API writes them (RFC 3339), read back by the protocol's own reader.
        struct Webhook: Decodable {
            struct Incident: Decodable {
                var openedAt: Date
                enum CodingKeys: String, CodingKey { case openedAt = "opened_at" }
            }
            var incident: Incident
        }
        let sent = try JSONCodable.decode(Webhook.self, from: Array(opened.text.utf8))
        #expect(abs(sent.incident.openedAt.timeIntervalSince1970 - PatternTests.t0) < 3600)

        // A silenced instance's new incident is recorded, its notification not sent.
        _ = try await fleet.store.addSilence(
            scope: .instance, value: "i4.example", startsAt: clock.date.timeIntervalSince1970,
            endsAt: clock.date.timeIntervalSince1970 + 3600, reason: "disk replacement", by: "alice",
            now: clock.date.timeIntervalSince1970)
        for minute in 30..<34 {
            try await streams[4].send(
                [PatternTests.result("disk", .critical, metrics: ["data.used_ratio": 0.99])], at: minute, engine: engine
            )
        }
        clock.set(minute: 40)
        #expect(try await notifier.deliverDue() == 2)
        #expect((ops.deliveries.count, chat.deliveries.count) == before)
        let silenced = try #require(
            try await fleet.store.incidents(openOnly: true).first { $0.instance == "i4.example" })
        let detail = try #require(try await fleet.store.incident(id: silenced.id))
        #expect(detail.notifications.map(\.state) == ["silenced", "silenced"])
        #expect(detail.events.contains { $0.kind == "silenced" && $0.detail.contains("disk replacement") })
        #expect(detail.incident.diagnosis?.rule == "disk_full")

        // The fleet recovers: its resolution is sent once per sink, the members' never.
        for minute in 40..<43 {
            for index in 0..<3 {
                try await streams[index].send([PatternTests.result("logs", .ok)], at: minute, engine: engine)
            }
        }
        clock.set(minute: 45)
        #expect(try await notifier.deliverDue() == 2)
        #expect(chat.accepted.filter { $0.text.contains("resolved") }.count == 1)
        #expect(ops.accepted.filter { $0.text.contains(#""transition":"resolved""#) }.count == 1)
        #expect(try await notifier.deliverDue() == 0)
    }
}

extension NotificationTests {
    /// An opening a sender attempted may have been heard: when its incident resolves, the resolution is
    /// queued too, and waits until the opening is settled. One never attempted is cancelled, alone.
    @Test(arguments: StoreKind.allCases) func aResolutionFollowsAnOpeningThatWasAttempted(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let store = fleet.store
        let (agent, _) = try await fleet.enroll("social.example")
        var settings = PatternSettings()
        settings.persistent.results = 1
        settings.persistent.seconds = 0
        settings.persistent.resolveResults = 1
        let engine = PatternEngine(settings: settings, routing: PatternTests.opsRouting, groupWait: 0)
        let now = Date().timeIntervalSince1970 + 60
        func send(_ sequence: UInt64, _ status: CheckStatus) async throws {
            _ = try await store.write(
                [fleet.report(agent, sequence: sequence, statuses: ["services": status])], patterns: engine)
        }

        try await send(1, .critical)
        let opened = try #require(try await store.dueNotifications(at: now).first)
        #expect(opened.transition == "opened")
        #expect(try await store.claimNotification(opened.id, at: now))
        try await send(2, .ok)
        // The opening is in flight: the resolution is queued behind it.
        #expect(try await store.dueNotifications(at: now + 1).isEmpty)
        try await store.notificationSent(opened.id, at: now + 1)
        let resolved = try #require(try await store.dueNotifications(at: now + 2).first)
        #expect(resolved.transition == "resolved" && resolved.incidentID == opened.incidentID)
        try await store.notificationSent(resolved.id, at: now + 2)

        // Opened and resolved before anyone tried to post it: nobody heard of it, nobody hears more.
        try await send(3, .critical)
        try await send(4, .ok)
        #expect(try await store.dueNotifications(at: now + 3).isEmpty)
        let states = try await store.read { db in
            try String.fetchAll(db, sql: "SELECT transition || ' ' || state FROM notifications ORDER BY id")
        }
        #expect(states == ["opened sent", "resolved sent", "opened cancelled"])
    }
}
