import Crypto
import Foundation
import GRDB
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// The pattern rules on synthetic report streams, through the store's write path (so what is tested
/// is what ingest does): one result per check per cycle, a minute apart.
@Suite struct PatternTests {
    static let t0 = 1_800_000_000.0
    static let engine = PatternEngine(routing: opsRouting, groupWait: 30)

    /// One webhook receiver, `ops`, that every incident goes to (no routes).
    static var opsRouting: NotificationRouting {
        var routing = NotificationRouting()
        var hook = NotificationRouting.Receiver(kind: .webhook)
        hook.url = "https://ops.example/hook"
        routing.receivers["ops"] = hook
        return routing
    }

    /// One instance's agent and its stream of reports.
    struct Stream {
        let fleet: StoreTests.Fleet
        let agent: AgentRecord
        var host: HostFacts
        var sequence: UInt64 = 0

        mutating func send(
            _ results: [CheckResult], at minute: Int, engine: PatternEngine = PatternTests.engine
        ) async throws {
            sequence += 1
            let at = Date(timeIntervalSince1970: PatternTests.t0 + Double(minute) * 60)
            let report = Report(
                agentID: agent.id, instance: agent.instance, sequence: sequence, collectedAt: at, sentAt: at,
                agentVersion: "0.1.0", intervalSeconds: 60, host: host, results: results)
            let stored = try await fleet.store.write(
                [
                    AcceptedReport(
                        agentID: agent.id, report: report, receivedAt: at.timeIntervalSince1970,
                        hostLabel: agent.hostLabel)
                ],
                patterns: engine)
            #expect(stored == [true])
        }
    }

    static func result(
        _ check: String, _ status: CheckStatus, metrics: [String: Double] = [:], findings: [Finding] = []
    ) -> CheckResult {
        CheckResult(
            checkID: check, status: status, summary: "\(check) \(status.rawValue)", durationMilliseconds: 1,
            metrics: metrics, findings: findings)
    }

    static func stream(_ fleet: StoreTests.Fleet, _ instance: String, host: HostFacts? = nil) async throws -> Stream {
        let (agent, _) = try await fleet.enroll(instance)
        return Stream(fleet: fleet, agent: agent, host: host ?? HostFacts(hostname: "h", mastodonVersion: "4.3.2"))
    }

    // MARK: Rules alone

    @Test func weightedPercentStateChangeIsNagios() {
        #expect(FlappingRule.percentStateChange(String(repeating: "o", count: 21)) == 0)
        #expect(FlappingRule.percentStateChange(String(repeating: "oc", count: 11).prefix(21).description) == 100)
        // One change, newest: weight 1.25; oldest: 0.75 (of 20 transitions).
        #expect(abs(FlappingRule.percentStateChange(String(repeating: "o", count: 20) + "c") - 6.25) < 1e-9)
        #expect(abs(FlappingRule.percentStateChange("c" + String(repeating: "o", count: 20)) - 3.75) < 1e-9)
        // A short history fills the newest slots: two results, one change = the newest weight.
        #expect(abs(FlappingRule.percentStateChange("oc") - 6.25) < 1e-9)
    }

    @Test func loadCorrelationNeedsErrorsThatFollowTraffic() {
        let rule = LoadCorrelationRule(PatternSettings.Load())
        func input(_ points: [(Double, Double)]) -> PatternInput {
            PatternInput(
                checkID: "nginx.access_log", status: .warning, at: 0, recent: "w", troubleSince: 0,
                categories: CategoryHistory(),
                load: LoadSeries(points: points.map { .init(requests: $0.0, errors: $0.1) }))
        }
        let rising: [(Double, Double)] = (0..<12).map { (i: Int) -> (Double, Double) in
            let errors: Double = i >= 6 ? Double(i - 5) * 0.4 : 0
            return (Double(10 + i * 5), errors)
        }
        #expect(rule.evaluate(input(rising), wasActive: false)?.active == true)
        let unrelated: [(Double, Double)] = (0..<12).map { (i: Int) -> (Double, Double) in
            let errors: Double = i % 3 == 0 ? 1 : 0
            return (Double(10 + i * 5), errors)
        }
        #expect(rule.evaluate(input(unrelated), wasActive: false) == nil)
        #expect(rule.evaluate(input(Array(rising.prefix(5))), wasActive: false) == nil)  // too few cycles
    }

    // MARK: Streams through the store

    @Test(arguments: StoreKind.allCases) func aSingleBlipIsNotAnIncident(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var web = try await Self.stream(fleet, "social.example")
        for (minute, status) in [CheckStatus.ok, .ok, .critical, .ok, .ok, .ok].enumerated() {
            try await web.send([Self.result("mastodon.http", status)], at: minute)
        }
        #expect(try await fleet.store.incidents(openOnly: false).isEmpty)
        #expect(try await fleet.store.activePatterns().isEmpty)
    }

    @Test(arguments: StoreKind.allCases) func fiveFailuresOverFiveMinutesArePersistentAndResolveAfterTwoOKs(
        _ kind: StoreKind
    ) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var sidekiq = try await Self.stream(fleet, "social.example")
        let down = Self.result("sidekiq", .critical, metrics: ["processes.live": 0, "latency_s": 900])
        try await sidekiq.send([Self.result("sidekiq", .ok)], at: 0)
        try await sidekiq.send([down], at: 1)
        try await sidekiq.send([down], at: 2)
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)  // 2 results over 1 min: not yet
        for minute in 3...5 { try await sidekiq.send([down], at: minute) }
        let open = try await fleet.store.incidents(openOnly: true)
        #expect(open.count == 1)
        let incident = try #require(open.first)
        #expect(incident.patterns == ["persistent"] && incident.checkID == "sidekiq" && incident.severity == 3)
        #expect(incident.openedAt == Self.t0 + 3 * 60)  // the third failure, two minutes after the first
        #expect(incident.diagnosis?.rule == "sidekiq_down")
        #expect(
            incident.diagnosis?.action == SuggestedAction(action: "restart-service", parameters: ["service": "sidekiq"])
        )

        // One good cycle does not resolve it (hysteresis); a failure in between does not reopen a new one.
        try await sidekiq.send([Self.result("sidekiq", .ok)], at: 6)
        try await sidekiq.send([down], at: 7)
        try await sidekiq.send([Self.result("sidekiq", .ok)], at: 8)
        #expect(try await fleet.store.incidents(openOnly: true).map(\.id) == [incident.id])
        try await sidekiq.send([Self.result("sidekiq", .ok)], at: 9)
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)
        let detail = try #require(try await fleet.store.incident(id: incident.id))
        #expect(detail.incident.state == "resolved" && detail.incident.resolution == "self")
        #expect(detail.incident.resolvedAt == Self.t0 + 9 * 60)
        #expect(detail.events.map(\.kind) == ["opened", "resolved"])
        // Resolved within the group wait of its opening? No: minutes later, so the opening was due; it is
        // still pending here (nothing sends in this test), so it is cancelled, not followed by "resolved".
        #expect(detail.notifications.map(\.state) == ["cancelled"])
    }

    @Test(arguments: StoreKind.allCases) func aCrashLoopRecoveringEveryOtherCycleIsIntermittent(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var web = try await Self.stream(fleet, "social.example")
        var opened: Int?
        for minute in 0..<21 {
            try await web.send([Self.result("services", minute % 2 == 0 ? .ok : .critical)], at: minute)
            if opened == nil, !(try await fleet.store.incidents(openOnly: true)).isEmpty { opened = minute }
        }
        let incident = try #require(try await fleet.store.incidents(openOnly: true).first)
        #expect(incident.patterns == ["flapping"])  // never three failures in a row: never persistent
        #expect(incident.severity == 3)
        // 30 % of the weighted 20 transitions: the newest six changes weigh 1.12 … 1.25, 35.5 % (five: 29.9 %).
        #expect(opened == 6)
        let patterns = try await fleet.store.activePatterns()
        #expect(patterns.map(\.checkID) == ["services"] && patterns.first?.patterns == ["flapping"])
    }

    @Test(arguments: StoreKind.allCases) func aFlappingCheckStopsFlappingOnlyBelowTheLowThreshold(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var web = try await Self.stream(fleet, "social.example")
        var recent = ""
        var active = false
        var heldBetweenThresholds = false
        var stoppedAt: Double?
        let settings = PatternSettings.Flapping()
        // 21 alternating results, then OK until the changes have slid out of the window.
        let statuses: [CheckStatus] = (0..<21).map { $0 % 2 == 0 ? .ok : .warning } + Array(repeating: .ok, count: 21)
        for (minute, status) in statuses.enumerated() {
            try await web.send([Self.result("mastodon.http", status)], at: minute)
            recent = String((recent + String(status.letter)).suffix(21))
            let percent = FlappingRule.percentStateChange(recent)
            let expected = active ? percent > settings.low : percent >= settings.high
            if active && expected && percent < settings.high { heldBetweenThresholds = true }
            if active && !expected { stoppedAt = percent }
            active = expected
            let flapping = try await fleet.store.activePatterns().contains { $0.patterns.contains("flapping") }
            #expect(flapping == active, "minute \(minute): \(percent) %")
        }
        #expect(heldBetweenThresholds)  // hysteresis was exercised …
        #expect(try #require(stoppedAt) <= settings.low)  // … and it stopped only at or below the low one
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)
    }

    @Test(arguments: StoreKind.allCases) func anErrorCategoryInThreeOfTenCyclesRecurs(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var logs = try await Self.stream(fleet, "social.example")
        let pool = Finding(
            category: .dbPoolExhausted, signature: "ActiveRecord::ConnectionTimeoutError", count: 2,
            sample: "could not obtain a connection from the pool")
        for minute in 0..<8 {
            let hit = [1, 4, 7].contains(minute)
            try await logs.send([Self.result("logs", hit ? .warning : .ok, findings: hit ? [pool] : [])], at: minute)
            let open = try await fleet.store.incidents(openOnly: true)
            #expect(open.isEmpty == (minute < 7), "minute \(minute)")
        }
        let incident = try #require(try await fleet.store.incidents(openOnly: true).first)
        #expect(incident.patterns == ["recurring"] && incident.categories == ["db_pool_exhausted"])
        #expect(incident.diagnosis?.rule == "rails_pool_exhausted" && incident.diagnosis?.action == nil)
    }

    @Test(arguments: StoreKind.allCases) func errorsThatRiseWithTrafficAreErrorsUnderLoad(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var nginx = try await Self.stream(fleet, "social.example")
        for minute in 0..<12 {
            let requests = Double(20 + (minute % 6) * 30)
            let errors = requests > 100 ? (requests - 100) / 40 : 0
            try await nginx.send(
                [
                    Self.result(
                        "nginx.access_log", errors > 0 ? .warning : .ok,
                        metrics: ["requests_per_second": requests, "errors_5xx_per_second": errors])
                ], at: minute)
        }
        let incident = try #require(try await fleet.store.incidents(openOnly: true).first)
        #expect(incident.patterns.contains("under_load"))
        #expect(incident.diagnosis?.rule == "errors_under_load")
    }

    @Test(arguments: StoreKind.allCases) func twelveOfFortyBehindOneEndpointAreOneFleetIncident(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var streams: [Stream] = []
        for index in 0..<60 {
            let endpoint = index < 40 ? "s3.provider-a.example" : "s3.provider-b.example"
            streams.append(
                try await Self.stream(
                    fleet, "i\(index).example",
                    host: HostFacts(
                        hostname: "h\(index)", mastodonVersion: "4.3.2", objectStorageEndpoint: endpoint,
                        region: index % 2 == 0 ? "eu" : "us")))
        }
        let failing = Set([0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 33])  // 12 of the 40 behind provider A
        let storage = Finding(
            category: .objectStorage, signature: "Storage server error", count: 4,
            sample: "Storage server error: Aws::S3::Errors::ServiceUnavailable")
        for minute in 0..<4 {
            for index in streams.indices {
                let bad = failing.contains(index)
                try await streams[index].send(
                    [Self.result("logs", bad ? .warning : .ok, findings: bad ? [storage] : [])], at: minute)
            }
        }
        let open = try await fleet.store.incidents(openOnly: true)
        let fleetIncidents = open.filter { $0.kind == "fleet" }
        #expect(fleetIncidents.count == 1)
        let incident = try #require(fleetIncidents.first)
        #expect(incident.subject == "category:object_storage")
        #expect(incident.groupAttribute == "object_storage_endpoint" && incident.groupValue == "s3.provider-a.example")
        #expect(incident.members == 12 && incident.openMembers == 12)
        #expect(incident.diagnosis?.rule == "provider_incident")
        let members = open.filter { $0.kind == "instance" }
        #expect(members.count == 12 && members.allSatisfy { $0.parentID == incident.id })
        // One page, not twelve: the members' openings are suppressed, the fleet's is the only one due.
        let notifications = try await fleet.store.read { db in
            try Store.notifications(db, where: "transition = 'opened'", [])
        }
        #expect(notifications.filter { $0.state == "pending" }.map(\.incidentID) == [incident.id])
        #expect(notifications.filter { $0.state == "suppressed" }.count == 12)

        // Recovery: the fleet incident resolves with its last member.
        for minute in 4..<7 {
            for index in failing.sorted() { try await streams[index].send([Self.result("logs", .ok)], at: minute) }
        }
        let after = try #require(try await fleet.store.incident(id: incident.id))
        #expect(after.incident.state == "resolved" && after.members.allSatisfy { $0.state == "resolved" })
    }

    @Test(arguments: StoreKind.allCases) func operatorAttributesGroupAFleetIncident(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var streams: [Stream] = []
        for index in 0..<8 { streams.append(try await Self.stream(fleet, "i\(index).example")) }
        for index in streams.indices { try await streams[index].send([Self.result("sidekiq", .ok)], at: 0) }
        for index in 0..<4 {
            let attributes = try await fleet.store.setOperatorAttributes(
                instance: "i\(index).example", set: ["datacenter": "fra1"], remove: [], by: "alice")
            #expect(attributes == ["datacenter": "fra1"])
        }
        await #expect(throws: WireError.self) {
            try await fleet.store.setOperatorAttributes(
                instance: "i0.example", set: ["Not An Identifier": "x"], remove: [], by: "alice")
        }
        await #expect(throws: WireError.self) {
            try await fleet.store.setOperatorAttributes(
                instance: "nowhere.example", set: ["datacenter": "x"], remove: [], by: "alice")
        }
        let down = Self.result("sidekiq", .critical, metrics: ["processes.live": 0])
        for minute in 1..<5 {
            for index in 0..<3 { try await streams[index].send([down], at: minute) }
        }
        let incident = try #require(try await fleet.store.incidents(openOnly: true).first { $0.kind == "fleet" })
        #expect(incident.subject == "check:sidekiq")
        #expect(incident.groupAttribute == "attribute.datacenter" && incident.groupValue == "fra1")
        #expect(incident.members == 3)
    }

    /// A shared Redis down on instances that also share an object-storage endpoint is not the storage
    /// provider's incident; and one instance with two incidents in a category is one instance, not two.
    @Test(arguments: StoreKind.allCases) func aFleetIncidentCountsInstancesAndGroupsOnlyByWhatCanExplainIt(
        _ kind: StoreKind
    ) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var streams: [Stream] = []
        for index in 0..<6 {
            streams.append(
                try await Self.stream(
                    fleet, "i\(index).example",
                    host: HostFacts(
                        hostname: "h\(index)", mastodonVersion: "4.3.2", objectStorageEndpoint: "s3.shared.example")))
        }
        let redis = Finding(
            category: .redisDown, signature: "Redis::CannotConnectError", count: 3,
            sample: "Redis::CannotConnectError: Error connecting to Redis on 10.0.0.5:6379 (Errno::ECONNREFUSED)")
        // Two incidents on one instance in one category: the second check is one the redis_down rule
        // does not explain, so it is an incident of its own.
        let redisDown = [
            Self.result("logs", .warning, findings: [redis]), Self.result("resources", .critical, findings: [redis]),
        ]
        for index in streams.indices { try await streams[index].send([Self.result("logs", .ok)], at: 0) }
        // One instance, two incidents in redis_down: no fleet incident.
        for minute in 1..<5 { try await streams[0].send(redisDown, at: minute) }
        var open = try await fleet.store.incidents(openOnly: true)
        #expect(open.filter { $0.kind == "instance" }.count == 2, "\(open.map(\.summary))")
        #expect(!open.contains { $0.kind == "fleet" }, "\(open.map(\.summary))")
        // Two more instances: now three of six, grouped as the whole fleet's, never the storage endpoint's.
        for minute in 5..<9 {
            for index in 0..<3 { try await streams[index].send(redisDown, at: minute) }
        }
        open = try await fleet.store.incidents(openOnly: true)
        let fleetIncidents = open.filter { $0.kind == "fleet" }
        #expect(!fleetIncidents.isEmpty)
        for incident in fleetIncidents {
            #expect(incident.groupAttribute != "object_storage_endpoint", "\(incident.summary)")
            #expect(incident.diagnosis?.rule != "provider_incident", "\(incident.summary)")
            #expect(incident.members == 3, "\(incident.summary)")
            #expect(incident.summary.hasSuffix("[3 instances]"), "\(incident.summary)")
        }
    }
}
