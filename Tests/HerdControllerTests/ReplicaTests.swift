import Foundation
import HerdProtocol
import HerdTestSupport
import Logging
import Synchronization
import Testing

@testable import HerdController

/// Replicas: several stores on one real PostgreSQL database, as several `herd-controller serve`
/// processes have them. One leads (advisory lock, fencing token), a command is dispatched once when two
/// replicas answer at once, events reach the other replicas, and a notification has one sender at a time.
@Suite struct ReplicaTests {
    /// Two replicas' stores on one new database, its name, and a fleet on the first; `close()` at the end.
    final class Pair {
        let a: Store
        let b: Store
        let database: String
        let fleet: StoreTests.Fleet

        init() throws {
            let url = try TestPostgres.newDatabase()
            a = try Store(location: url)
            b = try Store(location: url)
            database = try PostgresStoreSettings(url: url).database
            fleet = try StoreTests.Fleet(store: a)
        }

        func close() {
            try? a.close()
            try? b.close()
            fleet.directory.remove()
        }
    }

    /// Ends the PostgreSQL backends of `database` that `condition` (SQL over pg_stat_activity) picks, as a
    /// network failure or a PostgreSQL restart would.
    static func terminate(_ database: String, where condition: String) throws {
        try TestPostgres.cluster.get().sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)' AND \(condition)")
    }

    static func marks(_ store: Store) async throws -> [String] {
        try await store.read { db in
            try String.fetchAll(db, sql: "SELECT key FROM store_meta WHERE key LIKE 'mark-%' ORDER BY key")
        }
    }

    static func mark(_ store: Store, _ name: String) async throws {
        try await store.writeAsLeader { db in
            try db.execute(sql: "INSERT INTO store_meta (key, value) VALUES (?, '')", arguments: ["mark-\(name)"])
        }
    }

    /// Approved by Bob and Carol (the default policy asks two besides the requester for a destructive action).
    static func approve(
        _ remediation: OperatorAPI.Remediation, on store: Store, by ops: RemediationStoreTests.Operators
    ) async throws -> OperatorAPI.Remediation {
        var current = remediation
        for approver in [ops.bob, ops.carol] where current.state != "approved" {
            current = try await store.approve(
                remediation.id, try RemediationStoreTests.approval(remediation, by: approver.key), by: approver.record)
        }
        return current
    }

    @Test func oneReplicaLeadsAndAStaleLeaderCannotWrite() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let (a, b, database) = (pair.a, pair.b, pair.database)
        #expect(try await a.campaign(holder: "a") == 1)
        #expect(try await b.campaign(holder: "b") == nil)
        #expect(try await a.campaign(holder: "a") == 1)
        #expect(a.isLeader && !b.isLeader)
        try await Self.mark(a, "a1")
        await #expect(throws: NotLeader.self) { try await Self.mark(b, "b1") }

        // A's lock connection dies: PostgreSQL releases the lock, and B takes the lead with a new token.
        let elector = try #require(a.elector)
        let pid = try #require(
            try await elector.run(nil) { db in try Int64.fetchOne(db, sql: "SELECT pg_backend_pid()") })
        try Self.terminate(database, where: "pid = \(pid)")
        var epoch: Int64?
        for _ in 0..<100 where epoch == nil {
            epoch = try await b.campaign(holder: "b")
            if epoch == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(epoch == 2)
        // A has not noticed: it still holds token 1, and the fence refuses its write.
        #expect(a.leaderEpoch == 1)
        await #expect(throws: NotLeader.self) { try await Self.mark(a, "a2-stale") }
        #expect(!a.isLeader)
        try await Self.mark(b, "b2")
        #expect(try await a.campaign(holder: "a") == nil)
        let leader = try #require(try await a.leader())
        #expect(leader.holder == "b" && leader.epoch == 2)
        #expect(try await Self.marks(a) == ["mark-a1", "mark-b2"])

        // B steps down (graceful shutdown): A leads at its next round.
        await b.resign()
        #expect(!b.isLeader)
        #expect(try await a.campaign(holder: "a") == 3)
        try await Self.mark(a, "a3")
        #expect(try await Self.marks(b) == ["mark-a1", "mark-a3", "mark-b2"])
    }

    @Test func aCommandIsDispatchedOnceWhenTwoReplicasAnswerAtOnce() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let (a, b, fleet) = (pair.a, pair.b, pair.fleet)
        let (agent, _) = try await fleet.enroll("social.example")
        let ops = try await RemediationStoreTests.Operators(a)
        var handedOut = 0
        for _ in 0..<10 {
            let proposed = try await a.propose(
                try RemediationStoreTests.proposal(.mediaRemove(.init(days: 7)), agent: agent, by: ops.alice.key),
                by: ops.alice.record, policy: RemediationPolicy())
            let approved = try await Self.approve(proposed.remediation, on: b, by: ops)
            #expect(approved.state == "approved")
            async let fromA = a.dispatch(agentID: agent.id)
            async let fromB = b.dispatch(agentID: agent.id)
            let (one, other) = try await (fromA, fromB)
            #expect(one.count + other.count == 1)
            handedOut += one.count + other.count
        }
        #expect(handedOut == 10)
        let dispatches = try await a.auditEntries(after: 0, limit: 1_000).filter { $0.action == "remediation.dispatch" }
        #expect(dispatches.count == 10)
    }

    @Test func eventsReachTheOtherReplicaAndItsCacheOfAgents() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let (a, b, database) = (pair.a, pair.b, pair.database)
        let heard = Mutex<[StoreEvent]>([])
        b.subscribe { event in heard.withLock { $0.append(event) } }
        let follower = Task { await b.followReplicas(logger: Logger(label: "test")) }
        defer { follower.cancel() }
        func hear(_ event: StoreEvent, times: Int = 1) async throws {
            for _ in 0..<200 where heard.withLock({ $0.filter { $0 == event }.count }) < times {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(heard.withLock { $0.filter { $0 == event }.count } == times, "\(event)")
        }
        try await hear(.resynchronized)

        let (agent, _) = try await pair.fleet.enroll("social.example")
        let fingerprint = try #require(agent.certificateFingerprint)
        #expect(try await b.agent(fingerprint: fingerprint)?.state == .accepted)
        let ops = try await RemediationStoreTests.Operators(a)
        let proposed = try await a.propose(
            try RemediationStoreTests.proposal(.mediaRemove(.init(days: 7)), agent: agent, by: ops.alice.key),
            by: ops.alice.record, policy: RemediationPolicy())
        _ = try await Self.approve(proposed.remediation, on: a, by: ops)
        try await hear(.commandReady(agentID: agent.id))
        _ = try await a.setFreeze(true, reason: "drill", by: "carol")
        _ = try await a.setFreeze(false, reason: "drill over", by: "carol")
        try await hear(.thawed)

        // A revocation on A: B forgets the agent it had in memory and reads it revoked.
        _ = try await a.revoke(agentID: agent.id)
        try await hear(.agentChanged(agentID: agent.id))
        #expect(try await b.agent(fingerprint: fingerprint)?.state == .revoked)

        // B's listening connection breaks: it reconnects and resynchronises (what it missed is in the tables).
        try Self.terminate(database, where: "query LIKE 'LISTEN%'")
        try await hear(.resynchronized, times: 2)
        _ = try await a.setFreeze(false, reason: "again", by: "carol")
        try await hear(.thawed, times: 2)
        // Its own events reach a replica once, locally, not again through PostgreSQL.
        _ = try await b.setFreeze(false, reason: "from b", by: "carol")
        try await Task.sleep(for: .milliseconds(300))
        #expect(heard.withLock { $0.filter { $0 == .thawed }.count } == 3)
    }

    @Test func aNotificationHasOneSenderAndADeadSendersClaimLapses() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let (a, b, fleet) = (pair.a, pair.b, pair.fleet)
        let (agent, _) = try await fleet.enroll("social.example")
        var settings = PatternSettings()
        settings.persistent.results = 1
        settings.persistent.seconds = 0
        _ = try await a.write(
            [fleet.report(agent, sequence: 1, statuses: ["services": .critical])],
            patterns: PatternEngine(settings: settings, routing: PatternTests.opsRouting, groupWait: 0))
        #expect(try await a.campaign(holder: "a") == 1)
        #expect(try await b.campaign(holder: "b") == nil)

        let now = Date().timeIntervalSince1970 + 60
        let id = try #require(try await a.dueNotifications(at: now).first?.id)
        #expect(try await a.claimNotification(id, at: now))
        #expect(try await a.dueNotifications(at: now).isEmpty)
        #expect(try await !a.claimNotification(id, at: now + 1))
        await #expect(throws: NotLeader.self) { try await b.claimNotification(id, at: now) }

        // A dies while posting it: B leads, and takes the notification over once A's claim has lapsed.
        try a.close()
        var epoch: Int64?
        for _ in 0..<100 where epoch == nil {
            epoch = try await b.campaign(holder: "b")
            if epoch == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(epoch == 2)
        #expect(try await b.dueNotifications(at: now + 30).isEmpty)
        let later = now + Store.notificationClaimSeconds + 1
        #expect(try await b.dueNotifications(at: later).map(\.id) == [id])
        #expect(try await b.claimNotification(id, at: later))
        try await b.notificationSent(id, at: later)
        #expect(try await b.dueNotifications(at: later + 3_600).isEmpty)
    }
}

extension ReplicaTests {
    /// SQLite has one process: its store leads from its first round, with token 0, and has no one to
    /// tell its events but itself.
    @Test func aSQLiteStoreLeadsAlone() async throws {
        let fleet = try StoreTests.Fleet(.sqlite)
        defer { fleet.directory.remove() }
        #expect(fleet.store.isLeader && fleet.store.leaderEpoch == 0)
        #expect(try await fleet.store.campaign(holder: "solo") == 0)
        #expect(fleet.store.isLeader)
        try await Self.mark(fleet.store, "solo")
        #expect(try await Self.marks(fleet.store) == ["mark-solo"])
        let heard = Mutex<[StoreEvent]>([])
        fleet.store.subscribe { event in heard.withLock { $0.append(event) } }
        _ = try await fleet.store.setFreeze(false, reason: "thaw", by: "carol")
        #expect(heard.withLock { $0 } == [.thawed])
    }
}

extension ReplicaTests {
    /// An agent's retry reaches another replica while the first still stores it: one of them stores it.
    @Test func aReportDeliveredToTwoReplicasAtOnceIsStoredOnce() async throws {
        let pair = try Pair()
        defer { pair.close() }
        let (a, b, fleet) = (pair.a, pair.b, pair.fleet)
        let (agent, _) = try await fleet.enroll("social.example")
        let start = Date().addingTimeInterval(-3_600)
        for sequence in UInt64(1)...20 {
            let report = fleet.report(
                agent, sequence: sequence, statuses: ["disk": .ok, "services": sequence % 3 == 0 ? .critical : .ok],
                at: start.addingTimeInterval(Double(sequence) * 60))
            async let first = a.write([report])
            async let second = b.write([report])
            let (one, other) = try await (first, second)
            #expect(one + other == [true, false] || one + other == [false, true])
        }
        let history = try await b.history(
            instance: "social.example", since: 0, until: Date().timeIntervalSince1970)
        #expect(history.map(\.sequence) == Array(1...20))
    }
}
