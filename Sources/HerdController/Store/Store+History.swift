import Foundation
import HerdProtocol
import Synchronization

/// One stored report, as history keeps it.
public struct HistoryEntry: Sendable, Hashable {
    /// When its checks ran (seconds since the epoch, millisecond precision).
    public var collectedAt: Double
    public var sequence: UInt64
    public var results: [CheckResult]
}

/// The last frame written for each instance, so the next report of the same block is encoded against it
/// without decoding the block again. Keyed by the row it decodes: a frame whose row is not the one the
/// database holds (a rolled-back write, another writer) is never used.
struct HistoryCache: Sendable {
    private var last: [Int64: (key: Int64, frame: HistoryFrame)] = [:]

    func frame(instanceID: Int64, key: Int64) -> HistoryFrame? {
        guard let entry = last[instanceID], entry.key == key else { return nil }
        return entry.frame
    }

    mutating func remember(instanceID: Int64, key: Int64, frame: HistoryFrame) {
        last[instanceID] = (key, frame)
    }
}

extension Store {
    static let hourMilliseconds: Int64 = 3_600_000
    /// History's unit of decoding and of pruning: each block's first frame stands alone, and the rest
    /// refer back within it (UTC-aligned, 00:00, 03:00, …). Three hours: a key frame holds every text
    /// and costs ~20 ordinary frames, so longer blocks are smaller on disk; shorter ones decode less
    /// when a writer has no cached frame (~180 frames at most).
    static let blockMilliseconds: Int64 = 3 * hourMilliseconds

    /// The start of the block that holds `key`.
    static func blockStart(_ key: Int64) -> Int64 { key - key.modulo(blockMilliseconds) }

    /// The history key of an instant: milliseconds since the epoch.
    static func historyKey(_ seconds: Double) -> Int64 { Int64((seconds * 1000).rounded()) }

    /// Appends one report's results to its instance's history, based on the frame before it in the
    /// same block. Reports of one instance collected in the same millisecond (never seen from a healthy
    /// agent; a stuck clock sends many) keep each: a later one takes the first free millisecond after,
    /// found in one query however many are taken (up to a second's worth: beyond, the report is refused).
    ///
    /// A `late` report, received when its day may already be packed (`mayBePacked`: an agent's outbox
    /// drained a day late), is checked against the block's packed entries too, and based on the latest stored
    /// entry before it, packed or not.
    static func appendHistory(
        instanceID: Int64, collectedAt: Double, sequence: UInt64, results: [CheckResult], late: Bool,
        cache: borrowing Mutex<HistoryCache>, in db: any SQLDatabase
    ) throws {
        // The latest row at or before this instant in its block: the base, unless it holds this very
        // millisecond.
        func latest(_ key: Int64) throws -> Int64? {
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT collected_at FROM history WHERE instance_id = ? AND collected_at >= ? AND collected_at <= ?
                    ORDER BY collected_at DESC LIMIT 1
                    """, arguments: [instanceID, blockStart(key), key])
        }
        var key = historyKey(collectedAt)
        var found: Int64?
        if late {
            var block = blockStart(key)
            var keys = Set(
                try storedEntries(instanceID: instanceID, from: block, to: block + blockMilliseconds, in: db).map(\.key)
            )
            let first = key
            while keys.contains(key) {
                key += 1
                guard key - first < 1_000 else {
                    throw SQLError(
                        kind: .constraint, message: "history: a second of this instance's history is taken",
                        sql: "INSERT INTO history", sqlState: "23505")
                }
                if blockStart(key) != block {
                    block = blockStart(key)
                    keys = Set(
                        try storedEntries(instanceID: instanceID, from: block, to: block + blockMilliseconds, in: db)
                            .map(\.key))
                }
            }
            found = keys.filter { $0 < key }.max()
        } else {
            found = try latest(key)
            if found == key {
                let taken = try Int64.fetchAll(
                    db,
                    sql: """
                        SELECT collected_at FROM history WHERE instance_id = ? AND collected_at >= ? AND collected_at < ?
                        ORDER BY collected_at
                        """, arguments: [instanceID, key, key + 1_000])
                for next in taken where next == key { key += 1 }
                // The row just before `key` is the base, when it is in the same block.
                found = blockStart(key) == blockStart(key - 1) ? key - 1 : try latest(key)
            }
        }
        let start = blockStart(key)
        let frame = HistoryFrame(results: results)
        var base: (key: Int64, frame: HistoryFrame)?
        if let baseKey = found {
            if let cached = cache.withLock({ $0.frame(instanceID: instanceID, key: baseKey) }) {
                base = (baseKey, cached)
            } else if let decoded = try decodeBlock(instanceID: instanceID, from: start, to: baseKey + 1, in: db)
                .last
            {
                base = (decoded.key, decoded.frame)
            }
        }
        let bytes = frame.encode(base: base?.frame, baseOffset: UInt64(key - (base?.key ?? key)))
        try db.execute(
            sql: "INSERT INTO history (instance_id, collected_at, sequence, results) VALUES (?, ?, ?, ?)",
            arguments: [instanceID, key, Int64(sequence), bytes])
        cache.withLock { $0.remember(instanceID: instanceID, key: key, frame: frame) }
    }

    /// The stored entries of one instance's block (`from` its start) with keys before `to`, oldest
    /// first: its packed row's and its rows in `history` (a packed block gets rows again only from a
    /// report that arrived after its day was packed).
    static func storedEntries(instanceID: Int64, from: Int64, to: Int64, in db: any SQLDatabase) throws
        -> [PackedBlock.Entry]
    {
        let singles = try SQLRow.fetchAll(
            db,
            sql: """
                SELECT collected_at, sequence, results FROM history
                WHERE instance_id = ? AND collected_at >= ? AND collected_at < ? ORDER BY collected_at
                """, arguments: [instanceID, from, to]
        ).map { PackedBlock.Entry(key: $0[0], sequence: UInt64($0[1] as Int64), frame: $0[2]) }
        guard
            let bytes = try [UInt8].fetchOne(
                db, sql: "SELECT entries FROM history_packed WHERE instance_id = ? AND block_start = ?",
                arguments: [instanceID, from])
        else { return singles }
        let packed = try PackedBlock(decoding: bytes, start: from).entries.filter { $0.key < to }
        return (packed + singles).sorted { $0.key < $1.key }
    }

    /// The frames of one instance with keys in `from..<to`, which lie within one block (`from` its
    /// start), oldest first.
    static func decodeBlock(instanceID: Int64, from: Int64, to: Int64, in db: any SQLDatabase) throws -> [(
        key: Int64, sequence: UInt64, frame: HistoryFrame
    )] {
        var decoded: [Int64: HistoryFrame] = [:]
        var out: [(key: Int64, sequence: UInt64, frame: HistoryFrame)] = []
        for entry in try storedEntries(instanceID: instanceID, from: from, to: to, in: db) {
            var base: HistoryFrame?
            if let offset = try HistoryFrame.baseOffset(of: entry.frame) {
                base = decoded[entry.key - Int64(offset)]
                guard base != nil else { throw HistoryFrame.DecodeError.missingBase }
            }
            let frame = try HistoryFrame(decoding: entry.frame, base: base)
            decoded[entry.key] = frame
            out.append((entry.key, entry.sequence, frame))
        }
        return out
    }

    /// Every frame of one instance with keys in `from..<to`, block by block (each decodes on its own).
    static func frames(instanceID: Int64, from: Int64, to: Int64, in db: any SQLDatabase) throws -> [(
        key: Int64, sequence: UInt64, frame: HistoryFrame
    )] {
        var out: [(key: Int64, sequence: UInt64, frame: HistoryFrame)] = []
        var cursor = from
        // Each step jumps to the block of the next stored frame: a range reaching back to 1970 costs
        // what the blocks that hold frames cost, not a query per empty block.
        while true {
            let single = try Int64.fetchOne(
                db,
                sql:
                    "SELECT min(collected_at) FROM history WHERE instance_id = ? AND collected_at >= ? AND collected_at < ?",
                arguments: [instanceID, cursor, to])
            let packed = try Int64.fetchOne(
                db,
                sql:
                    "SELECT min(block_start) FROM history_packed WHERE instance_id = ? AND block_start >= ? AND block_start < ?",
                arguments: [instanceID, blockStart(cursor), to])
            guard let block = [single.map(blockStart), packed].compactMap({ $0 }).min() else { break }
            let next = block + blockMilliseconds
            out += try decodeBlock(instanceID: instanceID, from: block, to: min(next, to), in: db).filter {
                $0.key >= from
            }
            cursor = next
        }
        return out
    }

    /// One instance's stored reports collected in `since..<until`, oldest first.
    public func history(instance: String, since: Double, until: Double) async throws -> [HistoryEntry] {
        try await read { db in
            guard
                let instanceID = try Int64.fetchOne(
                    db, sql: "SELECT id FROM instances WHERE domain = ?", arguments: [instance])
            else { return [] }
            return try Self.frames(
                instanceID: instanceID, from: Self.historyKey(since), to: Self.historyKey(until), in: db
            ).map { HistoryEntry(collectedAt: Double($0.key) / 1000, sequence: $0.sequence, results: $0.frame.results) }
        }
    }

    /// Every stored report's sequence, by instance (for tests: nothing stored twice, nothing lost).
    public func sequences() async throws -> [UInt64] {
        try await read { db in
            var byInstance: [Int64: [UInt64]] = [:]
            for row in try SQLRow.fetchAll(db, sql: "SELECT instance_id, sequence FROM history") {
                byInstance[row[0], default: []].append(UInt64(row[1] as Int64))
            }
            for row in try SQLRow.fetchAll(db, sql: "SELECT instance_id, block_start, entries FROM history_packed") {
                byInstance[row[0], default: []] += try PackedBlock(decoding: row[2], start: row[1]).entries.map(
                    \.sequence)
            }
            return byInstance.keys.sorted().flatMap { byInstance[$0]!.sorted() }
        }
    }

    /// The worst status of each of the last `hours` hours per check, oldest first, one letter per hour
    /// (`o w c u`, `-` for an hour without results): the sparkline of `herdctl show`.
    public func hourlyWorst(instance: String, now: Double, hours: Int) async throws -> [String: String] {
        let end = Self.historyKey((now / 3600).rounded(.down) * 3600 + 3600)
        let start = end - Int64(hours) * Self.hourMilliseconds
        return try await read { db in
            guard
                let instanceID = try Int64.fetchOne(
                    db, sql: "SELECT id FROM instances WHERE domain = ?", arguments: [instance])
            else { return [:] }
            var slots: [String: [CheckStatus?]] = [:]
            for (key, _, frame) in try Self.frames(instanceID: instanceID, from: start, to: end, in: db) {
                let slot = Int((key - start) / Self.hourMilliseconds)
                for result in frame.results {
                    var line = slots[result.checkID] ?? Array(repeating: nil, count: hours)
                    line[slot] = max(line[slot] ?? result.status, result.status)
                    slots[result.checkID] = line
                }
            }
            return slots.mapValues { line in String(line.map { $0?.letter ?? "-" }) }
        }
    }
}

extension Int64 {
    /// The remainder towards negative infinity (instants before 1970 still fall in their block).
    func modulo(_ divisor: Int64) -> Int64 {
        let remainder = self % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }
}
