import Foundation
import HerdProtocol
import HerdTestSupport
import Logging
import Testing

@testable import HerdController

/// Paging end to end on loopback: routes choose receivers by severity, instance attribute and check; a
/// critical page goes out through a real SMTP server (aiosmtpd, STARTTLS and AUTH required), PagerDuty's
/// and Matrix's APIs (recorded by local receivers that check what they are sent) and webhooks; it
/// repeats until acknowledged; its resolution reaches whoever heard of it; many incidents of one
/// instance at once go as one digest. The controller's clock is moved by hand.
@Suite(.serialized) struct PagingTests {
    /// A secret file as the controller wants it: only its owner may read it.
    static func secret(_ directory: TemporaryDirectory, _ name: String, _ value: String) throws -> String {
        try directory.write(name, value + "\n")
        #expect(chmod(directory.file(name), 0o600) == 0)
        return directory.file(name)
    }

    @Test func routesChooseReceiversBySeverityAttributeAndCheck() throws {
        let configuration = try ControllerConfiguration.parse(
            """
            notify.webhook.a = https://a.example/hook
            notify.webhook.b = https://b.example/hook
            notify.webhook.c = https://c.example/hook
            notify.route.10.match = severity>=unknown attribute.plan=premium
            notify.route.10.receivers = a
            notify.route.10.continue = true
            notify.route.10.repeat_interval = 15m
            notify.route.20.match = check=sidekiq kind!=fleet
            notify.route.20.receivers = b
            notify.route.30.match = severity=warning
            notify.route.30.receivers = c
            notify.default = c
            """, source: "x", dataDirectory: "/d")
        let routing = configuration.notify
        func chosen(
            _ severity: Int, kind: String = "instance", check: String? = "sidekiq", plan: String? = nil
        ) -> [String] {
            let facts = NotificationRouting.IncidentFacts(
                severity: severity, kind: kind, check: check, instance: "x.example", categories: [],
                attributes: plan.map { ["attribute.plan": [$0]] } ?? [:])
            return routing.receivers(for: facts).map(\.name)
        }
        #expect(chosen(3, plan: "premium") == ["a", "b"])  // route 10 continues into 20
        #expect(chosen(1, plan: "premium") == ["b"])  // below unknown: 20 takes it first
        #expect(chosen(3) == ["b"])
        #expect(chosen(1, check: "disk") == ["c"])
        #expect(chosen(3, kind: "fleet", check: "disk") == ["c"])  // no route: the default
        #expect(
            routing.receivers(
                for: .init(
                    severity: 3, kind: "instance", check: nil, instance: nil, categories: [],
                    attributes: ["attribute.plan": ["premium"]])
            ).first?.repeatInterval == 900)
        #expect(routing.repeatInterval == 4 * 3600 && routing.digestMinimum == 3)

        // Without routes every receiver hears everything, as before routes existed.
        let plain = try ControllerConfiguration.parse(
            "notify.webhook.a = https://a.example/hook\nnotify.webhook.b = https://b.example/hook", source: "x",
            dataDirectory: "/d")
        #expect(
            plain.notify.receivers(
                for: .init(severity: 1, kind: "instance", check: nil, instance: nil, categories: [], attributes: [:])
            ).map(\.name) == ["a", "b"])
    }

    @Test(arguments: [
        (
            "notify.route.1.match = severity>=loud\nnotify.route.1.receivers = a",
            "severity is warning, unknown or critical"
        ),
        ("notify.route.1.match = colour=red", "unknown key colour"),
        ("notify.route.1.match = check>=disk", ">= goes with severity only"),
        (
            "notify.webhook.a = https://a.example\nnotify.route.1.match = check=disk\nnotify.route.1.receivers = b",
            "no receiver b"
        ),
        ("notify.webhook.a = https://a.example\nnotify.route.1.receivers = a", "notify.route.1: no match"),
        ("notify.route.0.match = check=disk", "N from 1 to 999"),
        ("notify.pagerduty.p = https://events.pagerduty.com/v2/enqueue", "notify.pagerduty.p: no routing_key_file"),
        ("notify.pagerduty.p.routing_key_file = key", "expected an absolute path"),
        ("notify.matrix.m = https://matrix.example\nnotify.matrix.m.room = general", "expected a room id"),
        ("notify.email.e = mail.example:25", "expected smtp://HOST:PORT"),
        (
            "notify.email.e = smtp://mail.example:25\nnotify.email.e.from = h@x.example\nnotify.email.e.to = o@x.example\nnotify.email.e.starttls = off",
            "starttls = off only to a loopback SMTP server"
        ),
        ("notify.email.e.to = o@x.example, <evil>", "expected addresses"),
        ("notify.email.e.from = a@b.example\\r\\nBcc: x@y.example", "expected an address"),
        (
            "notify.webhook.a = https://a.example\nnotify.email.a = smtp://localhost:25",
            "a is already a webhook receiver"
        ),
        ("notify.webhook.a.colour = red", "unknown field of a webhook receiver"),
        ("notify.digest_min = 1", "notify.digest_min"),
    ])
    func badPagingSettingsAreRefused(text: String, problem: String) {
        do {
            _ = try ControllerConfiguration.parse(text, source: "x", dataDirectory: "/d")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.description.contains(problem), "\(error.description)")
        }
    }

    @Test(arguments: StoreKind.allCases) func aCriticalPageRepeatsUntilAcknowledgedAndItsResolutionFollows(
        _ kind: StoreKind
    ) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let smtp = try await offThread { try SMTPServer(in: fleet.directory) }
        defer { smtp.stop() }
        let ops = try WebhookReceiver()
        let chat = try WebhookReceiver()
        let pagerDuty = try WebhookReceiver()
        let matrix = try WebhookReceiver()
        defer { [ops, chat, pagerDuty, matrix].forEach { $0.stop() } }
        try fleet.directory.write("smtp-ca.pem", smtp.caPEM)
        var configuration = try ControllerConfiguration.parse(
            """
            notify.email.mail = smtp://localhost:\(smtp.port)
            notify.email.mail.from = herd@example.net
            notify.email.mail.to = oncall@example.net, sre@example.net
            notify.email.mail.username = herd
            notify.email.mail.password_file = \(try Self.secret(fleet.directory, "smtp-password", "s3cret"))
            notify.email.mail.ca_file = \(fleet.directory.file("smtp-ca.pem"))
            notify.pagerduty.pd = \(pagerDuty.url)
            notify.pagerduty.pd.routing_key_file = \(try Self.secret(fleet.directory, "pd-key", "R0UT1NGKEY"))
            notify.matrix.mx = http://127.0.0.1:\(matrix.port)
            notify.matrix.mx.room = !ops:example.org
            notify.matrix.mx.token_file = \(try Self.secret(fleet.directory, "mx-token", "syt_t0ken"))
            notify.webhook.ops = \(ops.url)
            notify.webhook.chat = \(chat.url)
            notify.webhook.chat.format = slack
            notify.route.1.match = severity>=critical attribute.plan=premium
            notify.route.1.receivers = mail, pd, ops
            notify.route.1.repeat_interval = 30m
            notify.route.1.continue = true
            notify.route.2.match = severity>=warning
            notify.route.2.receivers = chat, mx
            notify.repeat_interval = 0s
            notify.group_wait = 0s
            patterns.persistent.check.sidekiq = 1/0s/2
            """, source: "test", dataDirectory: fleet.directory.path)
        configuration.patterns.fleet.minInstances = 100
        let (notifier, clock) = NotificationTests.notifier(configuration, fleet)
        let engine = configuration.patternEngine

        var premium = try await PatternTests.stream(fleet, "premium.example")
        var basic = try await PatternTests.stream(fleet, "basic.example")
        try await premium.send([PatternTests.result("sidekiq", .ok)], at: 0, engine: engine)
        try await basic.send([PatternTests.result("sidekiq", .ok)], at: 0, engine: engine)
        _ = try await fleet.store.setOperatorAttributes(
            instance: "premium.example", set: ["plan": "premium"], remove: [], by: "alice")
        try await premium.send(
            [PatternTests.result("sidekiq", .critical, metrics: ["processes.live": 0])], at: 1, engine: engine)
        try await basic.send(
            [PatternTests.result("sidekiq", .critical, metrics: ["processes.live": 0])], at: 1, engine: engine)
        clock.set(minute: 1)
        #expect(try await notifier.deliverDue() == 7)

        // The premium instance pages by mail, PagerDuty and the ops webhook, and (continue) chat and
        // Matrix; the basic one only chat and Matrix.
        let mails = smtp.messages
        #expect(mails.count == 1)
        let mail = try #require(mails.first)
        #expect(mail.headers["subject"]?.hasPrefix("[Herd] [CRITICAL] opened: #") == true, "\(mail.headers)")
        #expect(mail.headers["subject"]?.contains("premium.example") == true || mail.body.contains("premium.example"))
        #expect(mail.headers["to"] == "oncall@example.net, sre@example.net")
        #expect(mail.body.contains("Probable cause:") && mail.body.contains("Next step:"), "\(mail.body)")
        #expect(ops.accepted.count == 1 && ops.accepted[0].text.contains(#""instance":"premium.example""#))
        #expect(chat.accepted.count == 2 && matrix.accepted.count == 2)
        #expect(chat.accepted.contains { $0.text.contains("basic.example") })

        let trigger = try #require(pagerDuty.accepted.first)
        struct Event: Decodable {
            struct Payload: Decodable {
                var severity: String
                var source: String
                var component: String?
            }
            var routingKey: String
            var eventAction: String
            var dedupKey: String
            var payload: Payload?
            enum CodingKeys: String, CodingKey {
                case routingKey = "routing_key"
                case eventAction = "event_action"
                case dedupKey = "dedup_key"
                case payload
            }
        }
        let event = try JSONCodable.decode(Event.self, from: trigger.body)
        #expect(event.routingKey == "R0UT1NGKEY" && event.eventAction == "trigger")
        #expect(event.payload?.severity == "critical" && event.payload?.source == "premium.example")
        #expect(event.payload?.component == "sidekiq" && event.dedupKey.hasPrefix("herd-incident-"))

        let posted = try #require(matrix.accepted.first)
        #expect(posted.method == "PUT" && posted.authorization == "Bearer syt_t0ken")
        #expect(
            posted.path.hasPrefix(
                "/_matrix/client/v3/rooms/%21ops%3Aexample%2Eorg/send/m.room.message/herd-notification-"),
            "\(posted.path)")
        #expect(posted.text.contains(#""msgtype":"m.text""#))

        // Not acknowledged: route 1's receivers hear it again after 30 minutes, route 2's (no repeat) do not.
        clock.set(minute: 20)
        #expect(try await notifier.deliverDue() == 0)
        clock.set(minute: 32)
        #expect(try await notifier.deliverDue() == 3)
        #expect(smtp.messages.count == 2)
        #expect(smtp.messages.contains { $0.headers["subject"]?.contains("not acknowledged (repeat 1)") == true })
        #expect(ops.accepted.last?.text.contains(#""repetition":1"#) == true)
        #expect(ops.accepted.last?.text.contains(#""transition":"repeated""#) == true)
        #expect(pagerDuty.accepted.count == 2 && chat.accepted.count == 2)

        // Acknowledged: no more repeats.
        let incident = try #require(
            try await fleet.store.incidents(openOnly: true).first { $0.instance == "premium.example" })
        _ = try await fleet.store.acknowledge(incident: incident.id, by: "alice", now: clock.date.timeIntervalSince1970)
        clock.set(minute: 70)
        #expect(try await notifier.deliverDue() == 0)

        // Recovered: whoever heard of it hears it is over; PagerDuty resolves by the same key.
        try await premium.send([PatternTests.result("sidekiq", .ok)], at: 71, engine: engine)
        try await premium.send([PatternTests.result("sidekiq", .ok)], at: 72, engine: engine)
        clock.set(minute: 73)
        #expect(try await notifier.deliverDue() == 5)
        #expect(smtp.messages.count == 3)
        #expect(smtp.messages.contains { $0.headers["subject"]?.contains("resolved") == true })
        let resolve = try JSONCodable.decode(Event.self, from: try #require(pagerDuty.accepted.last).body)
        #expect(resolve.eventAction == "resolve" && resolve.dedupKey == event.dedupKey)
        #expect(chat.accepted.filter { $0.text.contains("resolved") }.count == 1)

        // Refused credentials are a delivery failure, retried, and say why without the password.
        _ = try Self.secret(fleet.directory, "smtp-password", "wrong")
        try await basic.send([PatternTests.result("sidekiq", .ok)], at: 74, engine: engine)
        let message = NotificationMessage.test(route: "1", by: "alice", at: clock.date.timeIntervalSince1970)
        let client = NotificationService.makeClient()
        let failure = await NotificationService.send(
            message, to: configuration.notify.receivers["mail"]!, client: client, date: clock.date)
        try await client.shutdown()
        #expect(failure?.contains("AUTH") == true && failure?.contains("wrong") == false, "\(failure ?? "")")
    }

    /// A host without Mastodon fails many checks at once: one message per receiver lists them all, instead
    /// of a burst; PagerDuty still gets one event per incident (it resolves them one by one).
    @Test func manyIncidentsOfOneInstanceGoAsOneDigest() async throws {
        let fleet = try StoreTests.Fleet(.sqlite)
        defer { fleet.directory.remove() }
        let chat = try WebhookReceiver()
        let ops = try WebhookReceiver()
        let pagerDuty = try WebhookReceiver()
        defer { [chat, ops, pagerDuty].forEach { $0.stop() } }
        var configuration = try ControllerConfiguration.parse(
            """
            notify.webhook.chat = \(chat.url)
            notify.webhook.chat.format = slack
            notify.webhook.ops = \(ops.url)
            notify.pagerduty.pd = \(pagerDuty.url)
            notify.pagerduty.pd.routing_key_file = \(try Self.secret(fleet.directory, "pd-key", "K"))
            notify.group_wait = 0s
            patterns.persistent.results = 1
            patterns.persistent.duration = 0s
            """, source: "test", dataDirectory: fleet.directory.path)
        configuration.patterns.fleet.minInstances = 100
        let (notifier, clock) = NotificationTests.notifier(configuration, fleet)
        let engine = configuration.patternEngine
        var bare = try await PatternTests.stream(fleet, "bare.example")
        let checks = ["services", "http", "postgres", "sidekiq", "disk"]
        try await bare.send(checks.map { PatternTests.result($0, .ok) }, at: 0, engine: engine)
        try await bare.send(checks.map { PatternTests.result($0, .critical) }, at: 1, engine: engine)
        let opened = try await fleet.store.incidents(openOnly: true).count
        #expect(opened >= 3, "the scenario needs several incidents: \(opened)")
        clock.set(minute: 1)
        try await notifier.deliverDue()
        #expect(chat.accepted.count == 1 && ops.accepted.count == 1)
        #expect(
            chat.accepted[0].text.contains("\(opened) incidents opened on bare.example"), "\(chat.accepted[0].text)")
        #expect(ops.accepted[0].text.contains(#""transition":"digest""#))
        #expect(pagerDuty.accepted.count == opened)
        let states = try await fleet.store.read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT state FROM notifications")
        }
        #expect(states == ["sent"])
    }

    /// Migration 0010 on a store with notifications in it: every row and id kept (SQLite rebuilds the
    /// table), each at repetition 0, and repeats can then be queued beside them.
    @Test(arguments: StoreKind.allCases) func migration0010KeepsEveryNotification(_ kind: StoreKind) async throws {
        let directory = try TemporaryDirectory("herd-m0010")
        defer { directory.remove() }
        let location =
            switch kind {
            case .sqlite: directory.file("herd.sqlite")
            case .postgresql: try TestPostgres.newDatabase()
            }
        func open(upTo identifier: String?) throws -> Store {
            switch kind {
            case .sqlite: try Store(path: location, migrateUpTo: identifier)
            case .postgresql: try Store(postgres: try PostgresStoreSettings(url: location), migrateUpTo: identifier)
            }
        }
        let old = try open(upTo: M0009HistoryPartitions.identifier)
        let fleet = try StoreTests.Fleet(store: old)
        var settings = PatternSettings()
        settings.persistent.results = 1
        settings.persistent.seconds = 0
        let engine = PatternEngine(settings: settings, routing: PatternTests.opsRouting, groupWait: 0)
        let agent = try await fleet.agentBeforeRoles("social.example")
        _ = try await old.write(
            [
                fleet.report(
                    agentID: agent, instance: "social.example", sequence: 1,
                    statuses: ["services": .critical, "disk": .critical])
            ], patterns: engine)
        let query = "SELECT id, incident_id, transition, sink, state FROM notifications ORDER BY id"
        func rows(_ store: Store) async throws -> [String] {
            try await store.read { db in
                try SQLRow.fetchAll(db, sql: query).map { row -> String in
                    let id: Int64 = row[0]
                    let incident: Int64 = row[1]
                    let transition: String = row[2]
                    let sink: String = row[3]
                    let state: String = row[4]
                    return "\(id) \(incident) \(transition) \(sink) \(state)"
                }
            }
        }
        let before = try await rows(old)
        #expect(before.count == 2)
        try await old.notificationSent(1, at: Date().timeIntervalSince1970)
        let sent = try await rows(old)
        try old.close()

        let store = try open(upTo: nil)
        defer { try? store.close() }
        #expect(try store.appliedMigrations().contains(M0010Paging.identifier))
        #expect(try await rows(store) == sent)
        #expect(
            try await store.read { db in try Int.fetchAll(db, sql: "SELECT repetition FROM notifications") } == [0, 0])
        var routing = PatternTests.opsRouting
        routing.repeatInterval = 60
        #expect(try await store.queueRepeats(at: Date().timeIntervalSince1970 + 120, routing: routing) == 1)
        #expect(try await store.queueRepeats(at: Date().timeIntervalSince1970 + 130, routing: routing) == 0)
    }
}
