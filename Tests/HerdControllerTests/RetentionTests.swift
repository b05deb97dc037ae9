import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing

/// Retention over a synthetic month: hourly rollups of everything, raw results pruned after 14 days
/// (never before they are rolled up; on PostgreSQL by dropping day partitions), rollups pruned after their
/// own retention, in bounded batches.
@Suite struct RetentionTests {
    @Test(arguments: StoreKind.allCases) func aMonthOfReportsRollsUpAndPrunes(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, _) = try await fleet.enroll("social.example")
        let start = Date(timeIntervalSince1970: 1_798_761_600)  // 2027-01-01T00:00:00Z, an hour boundary
        let step = 600.0  // a report every 10 minutes
        let count = 31 * 24 * 6
        var batch: [AcceptedReport] = []
        for i in 0..<count {
            let at = start.addingTimeInterval(Double(i) * step)
            // sidekiq is critical during the first 10 minutes of every sixth hour.
            let critical = (i / 6) % 6 == 0 && i % 6 == 0
            batch.append(
                fleet.report(
                    agent, sequence: UInt64(i + 1), statuses: ["disk": .ok, "sidekiq": critical ? .critical : .ok],
                    at: at))
            if batch.count == 500 {
                _ = try await fleet.store.write(batch)
                batch.removeAll()
            }
        }
        _ = try await fleet.store.write(batch)
        #expect(try await fleet.store.count(.history) == count)

        let end = start.addingTimeInterval(Double(count) * step)
        let pass = try await fleet.store.retain(
            now: end.timeIntervalSince1970, rawDays: 14, rollupDays: 400, batchSize: 1_000)
        #expect(pass.hoursRolledUp == 31 * 24)
        #expect(try await fleet.store.count(.rollups) == 31 * 24 * 2)
        // Raw results: only the last 14 days are left; deleting took several bounded transactions.
        let kept = try await fleet.store.count(.history)
        #expect(kept == 14 * 24 * 6)
        #expect(pass.reportsPruned == count - kept)
        switch kind {
        case .sqlite:
            // Row by row, in bounded transactions.
            #expect(pass.transactions > pass.hoursRolledUp + (count - kept) / 1_000)
            #expect(pass.partitionsDropped == 0)
        case .postgresql:
            // Whole days: the 17 before the cutoff, each a partition dropped.
            #expect(pass.partitionsDropped == 17)
        }
        let left = try await fleet.store.history(
            instance: "social.example", since: start.timeIntervalSince1970, until: end.timeIntervalSince1970)
        #expect(left.count == kept && left.allSatisfy { $0.results.count == 2 })
        #expect(left.first?.collectedAt == end.timeIntervalSince1970 - 14 * 86_400)

        // The first hour: 6 results, the first critical; metric "value" is the sequence, 1…6.
        let first = try await fleet.store.rollups(
            instance: "social.example", checkID: "sidekiq", since: start.timeIntervalSince1970,
            until: end.timeIntervalSince1970
        ).map(\.rollup)
        #expect(first.count == 31 * 24)
        #expect(first[0].worst == .critical)
        #expect(first[0].counts == [5, 0, 1, 0])
        #expect(first[0].metrics == #"{"value":[1,3.5,6,6]}"#)
        #expect(first[1].worst == .ok && first[1].counts == [6, 0, 0, 0])

        // A second pass has nothing to do; rollups go after their own retention.
        let again = try await fleet.store.retain(now: end.timeIntervalSince1970, rawDays: 14, rollupDays: 400)
        #expect(again.hoursRolledUp == 0 && again.reportsPruned == 0)
        let later = end.addingTimeInterval(410 * 86_400)
        let final = try await fleet.store.retain(now: later.timeIntervalSince1970, rawDays: 14, rollupDays: 400)
        #expect(final.rollupsPruned == 31 * 24 * 2)
        #expect(try await fleet.store.count(.history) == 0)
    }
}
