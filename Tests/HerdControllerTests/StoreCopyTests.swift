import Crypto
import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// `herd-controller migrate-store`'s copy: a SQLite store with every kind of row — history, a fleet
/// incident whose members point at it, a remediation and its dry run pointing at each other, silences,
/// the audit chain — reads back the same from PostgreSQL, and PostgreSQL goes on numbering after it.
@Suite struct StoreCopyTests {
    @Test func aSQLiteStoreCopiesIntoPostgreSQLWhole() async throws {
        let fleet = try StoreTests.Fleet(.sqlite)
        defer { fleet.directory.remove() }
        var streams: [PatternTests.Stream] = []
        for index in 0..<6 {
            streams.append(
                try await PatternTests.stream(
                    fleet, "i\(index).example",
                    host: HostFacts(hostname: "h\(index)", mastodonVersion: "4.3.2", region: index < 3 ? "eu" : "us")))
        }
        for minute in 0...4 {
            for index in streams.indices where minute == 0 || index >= 3 {
                try await streams[index].send(
                    [PatternTests.result("disk", .ok, metrics: ["used_percent": 40 + Double(minute)])], at: minute)
            }
        }
        let silent = try await fleet.store.openSilentAgentIncidents(
            now: PatternTests.t0 + 240, intervals: 3, patterns: PatternTests.engine)
        #expect(silent.count == 3)
        let ops = try await RemediationStoreTests.Operators(fleet.store)
        let agent = streams[3].agent
        let proposed = try await fleet.store.propose(
            try RemediationStoreTests.proposal(
                .mediaRemove(.init(days: 7)), agent: agent, by: ops.alice.key, preview: true),
            by: ops.alice.record, policy: RemediationPolicy())
        _ = try await fleet.store.approve(
            proposed.remediation.id, try RemediationStoreTests.approval(proposed.remediation, by: ops.bob.key),
            by: ops.bob.record)
        _ = try await fleet.store.addSilence(
            scope: .check, value: "disk", startsAt: Store.now(), endsAt: Store.now() + 3600, reason: "drill",
            by: "alice")
        _ = try await fleet.store.setFreeze(true, reason: "drill", by: "carol")

        let target = try Store(location: try TestPostgres.newDatabase())
        defer { try? target.close() }
        let copy = try await fleet.store.copy(into: target, pageSize: 7)
        let counted = Dictionary(uniqueKeysWithValues: copy.rows.map { ($0.table, $0.count) })
        #expect(counted["history"] == 6 + 3 * 4)
        #expect(counted["incidents"] == 4 && counted["remediations"] == 2)

        // Everything reads back the same, through the store's own queries.
        #expect(try await target.incidents(openOnly: false) == fleet.store.incidents(openOnly: false))
        for incident in try await fleet.store.incidents(openOnly: false) {
            #expect(try await target.incident(id: incident.id) == fleet.store.incident(id: incident.id))
        }
        let now = PatternTests.t0 + 300
        #expect(
            try await target.fleetStatus(now: now, silenceIntervals: 3)
                == fleet.store.fleetStatus(now: now, silenceIntervals: 3))
        for stream in streams {
            let instance = stream.agent.instance
            #expect(
                try await target.history(instance: instance, since: 0, until: now)
                    == fleet.store.history(instance: instance, since: 0, until: now))
            #expect(try await target.checkStates(instance: instance) == fleet.store.checkStates(instance: instance))
        }
        #expect(try await target.remediations(openOnly: false) == fleet.store.remediations(openOnly: false))
        #expect(try await target.silences(includeEnded: true) == fleet.store.silences(includeEnded: true))
        #expect(try await target.operators() == fleet.store.operators())
        #expect(try await target.agents() == fleet.store.agents())
        #expect(try await target.freezeState() == fleet.store.freezeState())

        // The chain verifies on PostgreSQL and records the copy as its next entry.
        let before = try await fleet.store.verifyAudit()
        let after = try await target.verifyAudit()
        #expect(after.ok && after.entries == before.entries + 1 && after.headHash == copy.auditHead)
        let last = try #require(try await target.auditEntries(after: Int64(before.entries), limit: 10).first)
        #expect(last.action == "store.migrate" && last.detail.contains("history 18"))

        // PostgreSQL numbers on after the copied rows: a new incident.
        for minute in 5...9 {
            let report = fleet.report(
                streams[4].agent, sequence: streams[4].sequence + UInt64(minute), statuses: ["sidekiq": .critical],
                at: Date(timeIntervalSince1970: PatternTests.t0 + Double(minute) * 60))
            #expect(try await target.write([report], patterns: PatternTests.engine) == [true])
        }
        let fresh = try await target.incidents(openOnly: true).filter { $0.checkID == "sidekiq" }
        #expect(fresh.count == 1 && fresh.allSatisfy { $0.id > 4 })

        // A second copy into a store that holds data is refused, and changes nothing.
        await #expect(throws: Store.CopyError.self) { try await fleet.store.copy(into: target) }
        #expect(try await target.verifyAudit().entries == after.entries)
    }
}
