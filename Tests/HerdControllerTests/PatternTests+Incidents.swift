import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// Incidents as operators get them: one per root cause with its symptoms, a silent agent paged, a
/// diagnosis kept through recovery, one OOM kill at once — through the store's write path.
extension PatternTests {
    /// An agent that stops reporting opens a critical incident that pages; three silent at once, the
    /// whole of one region, are one fleet incident for that region; the next report resolves it; a sweep never opens one twice.
    @Test(arguments: StoreKind.allCases) func silentAgentsAreIncidentsAndTheirNextReportResolvesThem(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var streams: [Stream] = []
        for index in 0..<6 {
            streams.append(
                try await Self.stream(
                    fleet, "i\(index).example",
                    host: HostFacts(hostname: "h\(index)", mastodonVersion: "4.3.2", region: index < 3 ? "eu" : "us")))
        }
        for index in streams.indices { try await streams[index].send([Self.result("disk", .ok)], at: 0) }
        for minute in 1...4 {
            for index in 3..<6 { try await streams[index].send([Self.result("disk", .ok)], at: minute) }
        }
        // Two intervals late: not yet.
        let early = try await fleet.store.openSilentAgentIncidents(
            now: Self.t0 + 170, intervals: 3, patterns: Self.engine)
        #expect(early.isEmpty)
        let silent = try await fleet.store.openSilentAgentIncidents(
            now: Self.t0 + 240, intervals: 3, patterns: Self.engine)
        #expect(silent == ["i0.example", "i1.example", "i2.example"])
        #expect(
            try await fleet.store.openSilentAgentIncidents(now: Self.t0 + 250, intervals: 3, patterns: Self.engine)
                .isEmpty)
        let open = try await fleet.store.incidents(openOnly: true)
        let members = open.filter { $0.kind == "instance" }
        #expect(members.count == 3 && members.allSatisfy { $0.checkID == "agent" && $0.severity == 3 })
        #expect(members.allSatisfy { $0.diagnosis?.rule == "agent_silent" && $0.patterns == ["silent"] })
        let group = try #require(open.first { $0.kind == "fleet" })
        #expect(group.subject == "check:agent" && group.groupAttribute == "region" && group.groupValue == "eu")
        #expect(group.members == 3)
        let notifications = try await fleet.store.read { db in
            try Store.notifications(db, where: "transition = 'opened'", [])
        }
        #expect(notifications.filter { $0.state == "pending" }.map(\.incidentID) == [group.id])

        // i0 is back.
        try await streams[0].send([Self.result("disk", .ok)], at: 5)
        let i0 = try #require(members.first { $0.instance == "i0.example" })
        let back = try #require(try await fleet.store.incident(id: i0.id))
        #expect(back.incident.state == "resolved")
        #expect(back.events.last?.detail.contains("reported again") == true)
        let after = try #require(try await fleet.store.incident(id: group.id))
        #expect(after.incident.state == "open" && after.incident.openMembers == 2)
    }

    /// The cause found while the fault was on stays through a recovery that changes the incident's
    /// patterns (persistent, then flapping as it recovers); and a check that only ever warned is a
    /// warning incident, whatever it reported before its trouble began.
    @Test(arguments: StoreKind.allCases) func aDiagnosisIsKeptThroughRecoveryAndSeverityIsTheFailingRunsOwn(
        _ kind: StoreKind
    ) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var sidekiq = try await Self.stream(fleet, "social.example")
        let down = Self.result("sidekiq", .critical, metrics: ["processes.live": 0, "latency_s": 900])
        let ok = Self.result("sidekiq", .ok)
        for minute in 0..<5 { try await sidekiq.send([down], at: minute) }
        let incident = try #require(try await fleet.store.incidents(openOnly: true).first)
        #expect(incident.diagnosis?.rule == "sidekiq_down")
        // A restart that does not hold: up, down, up, down… — flapping joins on OK results.
        var minute = 5
        for round in 0..<8 {
            try await sidekiq.send([round % 2 == 0 ? ok : down], at: minute)
            minute += 1
        }
        var current = try #require(try await fleet.store.incident(id: incident.id)).incident
        #expect(current.patterns.contains("flapping"), "\(current.patterns)")
        #expect(current.diagnosis?.rule == "sidekiq_down", "\(String(describing: current.diagnosis))")
        while current.state == "open", minute < 60 {
            try await sidekiq.send([ok], at: minute)
            minute += 1
            current = try #require(try await fleet.store.incident(id: incident.id)).incident
        }
        #expect(current.state == "resolved")
        #expect(current.diagnosis?.rule == "sidekiq_down", "\(String(describing: current.diagnosis))")
        #expect(current.diagnosis?.evidence.contains { $0.contains("critical") || $0.contains("0 live") } == true)

        // Disk: critical once long ago, then OK for a while, then warning only: a warning incident.
        var disk = try await Self.stream(fleet, "other.example")
        try await disk.send([Self.result("disk", .critical)], at: 0)
        for minute in 1..<4 { try await disk.send([Self.result("disk", .ok)], at: minute) }
        for minute in 4..<10 { try await disk.send([Self.result("disk", .warning)], at: minute) }
        let warned = try #require(
            try await fleet.store.incidents(openOnly: true).first { $0.instance == "other.example" })
        #expect(warned.severity == 1, "\(warned.summary)")
    }

    /// PostgreSQL down: the database check, the Rails log's PG errors, Sidekiq's failures and the HTTP
    /// check's 500s are one incident — the cause — holding the others as symptoms that page nobody; a
    /// failure nothing explains is its own incident; the cause's incident resolves when its last check
    /// recovers, not its first.
    @Test(arguments: StoreKind.allCases) func aCauseHoldsItsSymptomsInOneIncident(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var host = try await Self.stream(fleet, "social.example")
        let refused = Finding(
            category: .dbConnection, signature: "PG::ConnectionBad", count: 12,
            sample: "PG::ConnectionBad: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused")
        let down = [
            Self.result("postgresql", .critical, findings: [refused]),
            Self.result("logs", .warning, findings: [refused]),
            Self.result("sidekiq", .critical, metrics: ["processes.live": 2], findings: [refused]),
            Self.result("mastodon.http", .critical), Self.result("oom", .warning),
        ]
        let checks = ["postgresql", "logs", "sidekiq", "mastodon.http", "oom"]
        try await host.send(checks.map { Self.result($0, .ok) }, at: 0)
        for minute in 1..<6 { try await host.send(down, at: minute) }
        let open = try await fleet.store.incidents(openOnly: true)
        #expect(open.count == 2, "\(open.map(\.summary))")
        let cause = try #require(open.first { $0.diagnosis?.rule == "db_unreachable" })
        #expect(Set(cause.checks) == ["postgresql", "logs", "sidekiq", "mastodon.http"], "\(cause.checks)")
        #expect(cause.severity == 3)
        let unexplained = try #require(open.first { $0.id != cause.id })
        #expect(unexplained.checks == ["oom"] && unexplained.diagnosis?.rule == "unexplained")
        let notifications = try await fleet.store.read { db in
            try Store.notifications(db, where: "transition = 'opened'", [])
        }
        #expect(Set(notifications.map(\.incidentID)) == [cause.id, unexplained.id])

        // PostgreSQL is back but the HTTP check still fails for a while: the incident stays open.
        var recovering = down.filter { $0.checkID == "mastodon.http" }
        recovering += checks.filter { $0 != "mastodon.http" }.map { Self.result($0, .ok) }
        var minute = 6
        for _ in 0..<4 {
            try await host.send(recovering, at: minute)
            minute += 1
        }
        var detail = try #require(try await fleet.store.incident(id: cause.id))
        #expect(detail.incident.state == "open")
        #expect(
            detail.events.contains { $0.kind == "recovering" && $0.detail.contains("still failing: mastodon.http") })
        for _ in 0..<4 {
            try await host.send(checks.map { Self.result($0, .ok) }, at: minute)
            minute += 1
        }
        detail = try #require(try await fleet.store.incident(id: cause.id))
        #expect(detail.incident.state == "resolved" && detail.incident.diagnosis?.rule == "db_unreachable")
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)
    }

    /// One OOM kill is critical for one cycle: it opens an incident at once, diagnosed, and it lives
    /// long enough to page before it resolves.
    @Test(arguments: StoreKind.allCases) func oneOOMKillOpensAnIncidentAtOnce(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var host = try await Self.stream(fleet, "social.example")
        let kill = Finding(
            category: .oomKill, signature: "OOM kill: bundle", count: 1,
            sample: "Out of memory: Killed process 4242 (bundle) total-vm:2811204kB, anon-rss:1918000kB")
        try await host.send([Self.result("oom", .ok)], at: 0)
        try await host.send([Self.result("oom", .critical, findings: [kill])], at: 1)
        let incident = try #require(try await fleet.store.incidents(openOnly: true).first)
        #expect(incident.checkID == "oom" && incident.diagnosis?.rule == "oom_kill" && incident.severity == 3)
        for minute in 2..<6 { try await host.send([Self.result("oom", .ok)], at: minute) }
        #expect(try await fleet.store.incidents(openOnly: true).map(\.id) == [incident.id])
        try await host.send([Self.result("oom", .ok)], at: 6)
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)
    }

    /// 5xx that no log line names open a catch-all incident; when PostgreSQL is found down a minute
    /// later, that incident takes the specific cause and the database check — one fault, now
    /// understood, not a second incident beside the first.
    @Test(arguments: StoreKind.allCases) func aCatchAllIncidentTakesTheSpecificCauseFoundLater(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var host = try await Self.stream(fleet, "social.example")
        let failing = Self.result("logs", .critical, metrics: ["requests": 40, "requests_5xx": 12])
        try await host.send([Self.result("logs", .ok), Self.result("postgresql", .ok)], at: 0)
        for minute in 1..<4 { try await host.send([failing, Self.result("postgresql", .ok)], at: minute) }
        let first = try #require(try await fleet.store.incidents(openOnly: true).first)
        #expect(first.checkID == "logs" && first.diagnosis?.rule == "server_errors", "\(first.summary)")

        let refused = Finding(
            category: .dbConnection, signature: "PG::ConnectionBad", count: 3,
            sample: "connection to server at \"127.0.0.1\", port 5432 failed: Connection refused")
        for minute in 4..<7 {
            try await host.send([failing, Self.result("postgresql", .critical, findings: [refused])], at: minute)
        }
        let open = try await fleet.store.incidents(openOnly: true)
        #expect(open.map(\.id) == [first.id], "\(open.map(\.summary))")
        let detail = try #require(try await fleet.store.incident(id: first.id))
        #expect(detail.incident.diagnosis?.rule == "db_unreachable")
        #expect(Set(detail.incident.checks) == ["logs", "postgresql"])
        #expect(detail.events.contains { $0.kind == "diagnosis" && $0.detail.contains("replaces server_errors") })
    }
}
