import FoundationEssentials
import HerdProtocol
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// A message in the outbox: the agent's reports and command results share one sequence.
public enum OutboxMessage: Sendable, Hashable {
    case report(Report)
    case result(CommandResult)

    public var sequence: UInt64 {
        switch self {
        case .report(let report): report.sequence
        case .result(let result): result.sequence
        }
    }
}

/// Messages waiting for the controller's acknowledgement, one file per message in `STATE_DIR/outbox/`
/// (`00000000000000000042.json` for a report, `….result.json` for a command result; unsigned: each is
/// signed again, with a fresh `sent_at`, on every delivery attempt). Each file is written whole and
/// fsync'd before anything is sent, and removed only on acknowledgement. Bounded by count and bytes:
/// past a bound the oldest reports are dropped (never a command result: it is the only record of what
/// ran), and how many is carried in the next report's `outbox_dropped`, so the loss reaches the controller.
public final class Outbox: @unchecked Sendable {
    public let directory: String
    public let maxCount: Int
    public let maxBytes: Int
    private let lock = NIOLock()

    public init(stateDirectory: String, maxCount: Int = 10_000, maxBytes: Int = 64 << 20) throws(SecureFileError) {
        directory = stateDirectory + "/outbox"
        self.maxCount = max(1, maxCount)
        self.maxBytes = max(64 << 10, maxBytes)
        try SecureFile.makeDirectory(directory)
    }

    private var sequenceFile: String { directory + "/../sequence" }
    private var droppedFile: String { directory + "/../outbox-dropped" }

    /// The sequence numbers waiting, oldest first.
    public func pending() -> [UInt64] {
        lock.withLock { entries().map(\.sequence) }
    }

    /// Gives the command result the next sequence number and stores it (never dropped by the bounds).
    @discardableResult
    public func append(result make: (_ sequence: UInt64) -> CommandResult) throws -> CommandResult {
        try lock.withLock { () throws -> CommandResult in
            let sequence = try nextSequence()
            let result = make(sequence)
            try SecureFile.write(WireCoding.encode(result), to: path(sequence, result: true))
            return result
        }
    }

    private func nextSequence() throws(SecureFileError) -> UInt64 {
        let sequence = max(readNumber(sequenceFile), entries().last?.sequence ?? 0) + 1
        try SecureFile.write(String(sequence), to: sequenceFile)
        return sequence
    }

    /// Gives the report the next sequence number (persisted first, so a number is never reused even
    /// if the agent dies right after), the count of reports dropped so far, and stores it.
    public func append(_ make: (_ sequence: UInt64, _ dropped: UInt64) -> Report) throws -> Report {
        try lock.withLock { () throws -> Report in
            let sequence = try nextSequence()
            let dropped = readNumber(droppedFile)
            let report = make(sequence, dropped)
            try SecureFile.write(WireCoding.encode(report), to: path(sequence))
            if dropped > 0 { try SecureFile.write("0", to: droppedFile) }
            try enforceBounds()
            return report
        }
    }

    /// The oldest waiting message, or nil. Its sequence is the one its file is named by (see `renumber`).
    /// A file that no longer decodes is set aside (`.corrupt`), counted as dropped, and skipped.
    public func oldest() -> OutboxMessage? {
        lock.withLock {
            for entry in entries() {
                let file = path(entry.sequence, result: entry.result)
                if let bytes = try? SecureFile.read(file, maxBytes: Limits.maxEnvelopeBytes) {
                    if entry.result, var result = try? WireCoding.decode(CommandResult.self, from: bytes) {
                        result.sequence = entry.sequence
                        return .result(result)
                    }
                    if !entry.result, var report = try? WireCoding.decode(Report.self, from: bytes) {
                        report.sequence = entry.sequence
                        return .report(report)
                    }
                }
                rename(file, file + ".corrupt")
                try? SecureFile.write(String(readNumber(droppedFile) + 1), to: droppedFile)
            }
            return nil
        }
    }

    /// The controller has accepted sequences up to `lastAccepted` from this identity, past what this
    /// outbox would send next (a state directory restored from a snapshot, a reinstall that kept the
    /// identity): every waiting message moves past it, in the same order, so none is refused as a
    /// replay. The file name is a message's sequence, so each move is one atomic rename (newest first,
    /// so no name is taken twice) and a crash midway loses and duplicates nothing. Returns the moves.
    public func renumber(after lastAccepted: UInt64) throws -> [(from: UInt64, to: UInt64)] {
        try lock.withLock { () throws -> [(from: UInt64, to: UInt64)] in
            let waiting = entries()
            var moves: [(from: UInt64, to: UInt64, result: Bool)] = []
            var next = lastAccepted
            for entry in waiting {
                next = max(entry.sequence, next + 1)
                moves.append((entry.sequence, next, entry.result))
            }
            guard next <= Limits.maxSequence else {
                throw SecureFileError(directory, "cannot number past \(lastAccepted): the sequence would pass 2^53-1")
            }
            // The counter first, so a crash after a rename never hands a moved number out again.
            try SecureFile.write(String(max(next, readNumber(sequenceFile))), to: sequenceFile)
            for move in moves.reversed() where move.from != move.to {
                try SecureFile.move(path(move.from, result: move.result), to: path(move.to, result: move.result))
            }
            return moves.filter { $0.from != $0.to }.map { ($0.from, $0.to) }
        }
    }

    /// Acknowledged: gone for good.
    public func remove(_ sequence: UInt64) {
        lock.withLock {
            _ = unlink(path(sequence, result: false))
            _ = unlink(path(sequence, result: true))
        }
    }

    private func path(_ sequence: UInt64, result: Bool = false) -> String {
        let digits = String(sequence)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits
            + (result ? ".result.json" : ".json")
    }

    private func entries() -> [(sequence: UInt64, bytes: Int, result: Bool)] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [(UInt64, Int, Bool)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let result = name.hasSuffix(".result.json")
            guard name.hasSuffix(".json"), name.count == (result ? 32 : 25), let sequence = UInt64(name.prefix(20))
            else { continue }
            var info = stat()
            let size = stat(directory + "/" + name, &info) == 0 ? Int(info.st_size) : 0
            found.append((sequence, size, result))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    private func enforceBounds() throws(SecureFileError) {
        let current = entries()
        var reports = current.filter { !$0.result }
        var all = current.count
        var bytes = current.reduce(0) { $0 + $1.bytes }
        var dropped: UInt64 = 0
        while reports.count > 1, all > maxCount || bytes > maxBytes {
            let oldest = reports.removeFirst()
            unlink(path(oldest.sequence))
            bytes -= oldest.bytes
            all -= 1
            dropped += 1
        }
        if dropped > 0 { try SecureFile.write(String(readNumber(droppedFile) + dropped), to: droppedFile) }
    }

    private func readNumber(_ file: String) -> UInt64 {
        (try? SecureFile.readText(file, maxBytes: 64)).flatMap { UInt64($0.trimmed()) } ?? 0
    }
}
