import Crypto
import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// One instance over several hosts (`AgentRole`): each host's agent enrolls with a role, its checks are
/// stored as `CHECK@HOST`, and the causal model reads every host's evidence — through the store's
/// write path, on both stores.
@Suite struct SplitInstanceTests {
    typealias Stream = PatternTests.Stream

    static func part(_ fleet: StoreTests.Fleet, _ role: AgentRole, _ hostname: String) async throws -> Stream {
        let (agent, _) = try await fleet.enroll("big.example", role: role, hostname: hostname)
        #expect(agent.role == role)
        return Stream(fleet: fleet, agent: agent, host: HostFacts(hostname: hostname, mastodonVersion: "4.3.2"))
    }

    @Test(arguments: StoreKind.allCases) func enrollmentTakesOneAgentPerHostOrOneForTheWhole(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        _ = try await fleet.enroll("big.example", role: .db, hostname: "db-1.fra1.example.net")
        _ = try await fleet.enroll("big.example", role: .web, hostname: "web-1.fra1.example.net")
        _ = try await fleet.enroll("big.example", role: .web, hostname: "web-2.fra1.example.net")
        for (role, hostname, says) in [
            (AgentRole?.none, "other", "enrolled for big.example"),
            (.all, "other", "enrolled for big.example"),
            (.sidekiq, "DB-1.elsewhere", "on host db-1"),
        ] {
            do {
                _ = try await fleet.enroll("big.example", role: role, hostname: hostname)
                Issue.record("enrolled \(role?.rawValue ?? "-") on \(hostname)")
            } catch let error as WireError {
                #expect(error.code == .duplicateInstance && error.message.contains(says), "\(error)")
            }
        }
        // An instance with an agent for the whole takes no part agent.
        _ = try await fleet.enroll("small.example")
        do {
            _ = try await fleet.enroll("small.example", role: .db, hostname: "db-9")
            Issue.record("a part enrolled beside the whole")
        } catch let error as WireError {
            #expect(error.code == .duplicateInstance && error.message.contains("role all"), "\(error)")
        }
        // A role needs a host name whose first label can name checks.
        let token = try await fleet.store.createToken(instance: "x.example", ttl: 60, autoAccept: true, createdBy: nil)
        let bad = try fleet.request(
            token: token, instance: "x.example", key: Curve25519.Signing.PrivateKey(), role: .db, hostname: "db 1")
        #expect(throws: WireError.self) { try bad.validate() }
        let agents = try await fleet.store.agents()
        #expect(Set(agents.filter { $0.instance == "big.example" }.map(\.role)) == [.db, .web])
    }

    /// The database host's disk fills and the web host starts answering 500: one incident, the disk's,
    /// which names the host it is on and holds the web host's check as its symptom.
    @Test(arguments: StoreKind.allCases) func theDatabaseHostsFullDiskExplainsTheWebHosts500s(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var db = try await Self.part(fleet, .db, "db-1.fra1.example.net")
        var web = try await Self.part(fleet, .web, "web-1.fra1.example.net")
        let full = PatternTests.result(
            "disk", .critical, metrics: ["postgresql.used_ratio": 0.98, "postgresql.hours_to_full": 1])
        let errors = PatternTests.result("mastodon.http", .critical, metrics: ["status": 500])
        for minute in 0..<2 {
            try await db.send([PatternTests.result("disk", .ok), PatternTests.result("postgresql", .ok)], at: minute)
            try await web.send(
                [PatternTests.result("disk", .ok), PatternTests.result("mastodon.http", .ok)], at: minute)
        }
        for minute in 2..<8 {
            try await db.send([full, PatternTests.result("postgresql", .ok)], at: minute)
            try await web.send(
                [PatternTests.result("disk", .ok), minute >= 3 ? errors : PatternTests.result("mastodon.http", .ok)],
                at: minute)
        }
        let open = try await fleet.store.incidents(openOnly: true)
        #expect(open.count == 1, "\(open.map { "\($0.checkID ?? "-") \($0.diagnosis?.rule ?? "-")" })")
        let incident = try #require(open.first)
        #expect(incident.instance == "big.example" && incident.checkID == "disk@db-1")
        #expect(incident.diagnosis?.rule == "disk_full")
        #expect(incident.diagnosis?.cause.contains("postgresql volume on db-1 is 98 %") == true)
        let detail = try #require(try await fleet.store.incident(id: incident.id))
        #expect(Set(detail.incident.checks) == ["disk@db-1", "mastodon.http@web-1"])
        // The instance's state holds each host's checks.
        let states = try await fleet.store.checkStates(instance: "big.example").map(\.checkID)
        #expect(Set(states) == ["disk@db-1", "postgresql@db-1", "disk@web-1", "mastodon.http@web-1"])
        // Space freed, the 500s stop: the incident resolves when both hosts are well (two OKs each).
        for minute in 8...9 {
            try await db.send([PatternTests.result("disk", .ok), PatternTests.result("postgresql", .ok)], at: minute)
        }
        #expect(try await fleet.store.incidents(openOnly: true).count == 1)
        for minute in 8...9 {
            try await web.send(
                [PatternTests.result("disk", .ok), PatternTests.result("mastodon.http", .ok)], at: minute)
        }
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)
    }

    /// One host of the instance goes silent while the others report: its own incident, which the other
    /// hosts' reports do not resolve and its own next report does.
    @Test(arguments: StoreKind.allCases) func aSilentHostIsAnIncidentWhileTheOthersReport(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        var db = try await Self.part(fleet, .db, "db-1")
        var web = try await Self.part(fleet, .web, "web-1")
        try await db.send([PatternTests.result("disk", .ok)], at: 0)
        for minute in 0...5 { try await web.send([PatternTests.result("disk", .ok)], at: minute) }
        let silent = try await fleet.store.openSilentAgentIncidents(
            now: PatternTests.t0 + 300, intervals: 3, patterns: PatternTests.engine)
        #expect(silent == ["big.example"])
        try await web.send([PatternTests.result("disk", .ok)], at: 6)
        let open = try await fleet.store.incidents(openOnly: true)
        #expect(open.map(\.checkID) == ["agent@db-1"])
        #expect(open.first?.diagnosis?.cause.contains("big.example on db-1") == true)
        try await db.send([PatternTests.result("disk", .ok)], at: 7)
        #expect(try await fleet.store.incidents(openOnly: true).isEmpty)
    }
}

extension StoreTests.Fleet {
    /// An accepted agent as a store from before migration 0012 (roles) holds one, for the tests that
    /// write into an old schema; its id.
    func agentBeforeRoles(_ instance: String) async throws -> String {
        let id = String(Hex.lowercase(Array(UUID().uuidString.utf8)).prefix(20))
        let arguments: SQLArguments = [id, instance, Data(repeating: 7, count: 32), id + "k"]
        _ = try await store.write { db -> Int in
            try db.execute(
                sql: """
                    INSERT INTO agents (id, instance, state, signing_public_key, signing_key_id, csr_pem,
                        agent_version, hostname, requested_at, accepted_at)
                    VALUES (?, ?, 'accepted', ?, ?, '', '0.1.0', 'masto-1', 0, 0)
                    """, arguments: arguments)
        }
        return id
    }
}
