import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// Packing on both stores: once a day is over, its reports move from a row each to a row per instance
/// and block, and everything read from history reads the same; a report that arrives for a packed day
/// later is kept, read, and packed by the next pass.
@Suite struct HistoryPackingTests {
    @Test(arguments: StoreKind.allCases) func aPackedDayReadsAsItWasWrittenAndTakesLateReports(_ kind: StoreKind)
        async throws
    {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let (agent, _) = try await fleet.enroll("social.example")
        let (other, _) = try await fleet.enroll("other.example")
        let day = 1_798_761_600.0  // 2027-01-01T00:00:00Z
        // Two days and an hour of a report every 10 minutes (sidekiq critical every third), a day late
        // (received when collected, so that none is late).
        var sequence: UInt64 = 0
        for step in 0..<(2 * 144 + 6) {
            sequence += 1
            let at = day + Double(step * 600)
            for (who, instance) in [(agent, "social.example"), (other, "other.example")] {
                var report = fleet.report(
                    who, sequence: sequence,
                    statuses: ["disk": .ok, "sidekiq": step.isMultiple(of: 3) ? .critical : .ok],
                    at: Date(timeIntervalSince1970: at))
                report.receivedAt = at
                report.report.results[0].metrics["used_percent"] = Double(step % 97) + 0.5
                #expect(report.report.instance == instance)
                _ = try await fleet.store.write([report])
            }
        }
        let now = day + 2 * 86_400 + 2 * 3_600
        let before = try await fleet.store.history(instance: "social.example", since: day - 1, until: now)
        let worstBefore = try await fleet.store.hourlyWorst(instance: "social.example", now: now, hours: 48)
        let sequencesBefore = try await fleet.store.sequences()
        #expect(before.count == 2 * 144 + 6)

        let pass = try await fleet.store.retain(now: now, rawDays: 30, rollupDays: 400)
        // Both whole days are packed (the third, an hour old, is not over by the grace yet).
        #expect(pass.reportsPacked == 2 * 2 * 144)
        #expect(try await fleet.store.count(.history) == 2 * (2 * 144 + 6))
        let rows = try await fleet.store.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM history") ?? 0,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM history_packed") ?? 0
            )
        }
        #expect(rows == (2 * 6, 2 * 2 * 8))
        #expect(try await fleet.store.history(instance: "social.example", since: day - 1, until: now) == before)
        #expect(try await fleet.store.hourlyWorst(instance: "social.example", now: now, hours: 48) == worstBefore)
        #expect(try await fleet.store.sequences() == sequencesBefore)
        // A range that starts inside a packed block reads from there.
        let middle = try await fleet.store.history(instance: "social.example", since: day + 3_900, until: day + 7_200)
        #expect(middle == before.filter { $0.collectedAt >= day + 3_900 && $0.collectedAt < day + 7_200 })

        // A report collected on the first day arrives now (an outbox drained late): at a minute that
        // holds a packed report, so it takes the next free millisecond; then one more in the same block.
        sequence += 1
        var late = fleet.report(
            agent, sequence: sequence, statuses: ["disk": .critical, "sidekiq": .ok],
            at: Date(timeIntervalSince1970: day + 600))
        late.receivedAt = now
        #expect(try await fleet.store.write([late]) == [true])
        sequence += 1
        var later = fleet.report(
            agent, sequence: sequence, statuses: ["disk": .warning, "sidekiq": .ok],
            at: Date(timeIntervalSince1970: day + 650))
        later.receivedAt = now
        #expect(try await fleet.store.write([later]) == [true])
        let withLate = try await fleet.store.history(instance: "social.example", since: day - 1, until: now)
        #expect(withLate.count == before.count + 2)
        let first = try #require(withLate.first { $0.sequence == sequence - 1 })
        #expect(first.collectedAt == day + 600.001)
        #expect(first.results == late.report.results)
        #expect(withLate.first { $0.sequence == sequence }?.results == later.report.results)
        #expect(withLate.filter { $0.sequence < sequence - 1 } == before)

        // The next pass packs the late ones into their block; nothing read changes.
        let again = try await fleet.store.retain(now: now, rawDays: 30, rollupDays: 400)
        #expect(again.reportsPacked == 2)
        #expect(try await fleet.store.history(instance: "social.example", since: day - 1, until: now) == withLate)

        // Retention prunes packed blocks as it pruned rows: keep one day.
        let pruned = try await fleet.store.retain(now: now, rawDays: 1, rollupDays: 400)
        #expect(pruned.reportsPruned >= 2 * 144)
        let kept = try await fleet.store.history(instance: "social.example", since: day - 1, until: now)
        #expect(kept == withLate.filter { $0.collectedAt >= day + 86_400 })
    }

    /// Bytes a packed row does not accept: each is an error, never a crash or a wrong report.
    @Test func aDamagedPackedBlockIsAnError() throws {
        let block = PackedBlock(
            start: 0,
            entries: [
                .init(key: 5, sequence: 9, frame: [1, 0, 0]), .init(key: 70, sequence: 10, frame: [1, 66, 0]),
            ])
        let bytes = block.encode()
        #expect(try PackedBlock(decoding: bytes, start: 0) == block)
        for cut in 0..<bytes.count {
            #expect(throws: HistoryFrame.DecodeError.self) { try PackedBlock(decoding: Array(bytes[..<cut]), start: 0) }
        }
        #expect(throws: HistoryFrame.DecodeError.self) { try PackedBlock(decoding: bytes + [0], start: 0) }
        #expect(throws: HistoryFrame.DecodeError.self) { try PackedBlock(decoding: [1] + bytes.dropFirst(), start: 0) }
        // Keys out of order, and a key past the block.
        let swapped = PackedBlock(start: 0, entries: block.entries.reversed()).encode()
        #expect(throws: HistoryFrame.DecodeError.self) { try PackedBlock(decoding: swapped, start: 0) }
        let outside = PackedBlock(start: 0, entries: [.init(key: Store.blockMilliseconds, sequence: 1, frame: [1])])
        #expect(throws: HistoryFrame.DecodeError.self) { try PackedBlock(decoding: outside.encode(), start: 0) }
    }
}
