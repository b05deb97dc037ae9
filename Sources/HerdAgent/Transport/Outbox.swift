import FoundationEssentials
import HerdProtocol
import NIOConcurrencyHelpers

#if canImport(Glibc)
    import Glibc
#endif

/// Reports waiting for the controller's acknowledgement, one file per report in `STATE_DIR/outbox/`
/// (`00000000000000000042.json`, the unsigned report: it is signed again, with a fresh `sent_at`, on
/// every delivery attempt). Each file is written whole and fsync'd before anything is sent, and removed
/// only on acknowledgement. Bounded by count and bytes: past a bound the oldest are dropped, and how
/// many is carried in the next report's `outbox_dropped`, so the loss itself reaches the controller.
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

    /// Gives the report the next sequence number (persisted first, so a number is never reused even
    /// if the agent dies right after), the count of reports dropped so far, and stores it.
    public func append(_ make: (_ sequence: UInt64, _ dropped: UInt64) -> Report) throws -> Report {
        try lock.withLock { () throws -> Report in
            let last = max(readNumber(sequenceFile), entries().last?.sequence ?? 0)
            let sequence = last + 1
            try SecureFile.write(String(sequence), to: sequenceFile)
            let dropped = readNumber(droppedFile)
            let report = make(sequence, dropped)
            try SecureFile.write(WireCoding.encode(report), to: path(sequence))
            if dropped > 0 { try SecureFile.write("0", to: droppedFile) }
            try enforceBounds()
            return report
        }
    }

    /// The oldest waiting report, or nil. A file that no longer decodes is set aside (`.corrupt`),
    /// counted as dropped, and skipped.
    public func oldest() -> (sequence: UInt64, report: Report)? {
        lock.withLock {
            for entry in entries() {
                if let bytes = try? SecureFile.read(path(entry.sequence), maxBytes: Limits.maxEnvelopeBytes),
                    let report = try? WireCoding.decode(Report.self, from: bytes)
                {
                    return (entry.sequence, report)
                }
                rename(path(entry.sequence), path(entry.sequence) + ".corrupt")
                try? SecureFile.write(String(readNumber(droppedFile) + 1), to: droppedFile)
            }
            return nil
        }
    }

    /// Acknowledged: gone for good.
    public func remove(_ sequence: UInt64) {
        lock.withLock { _ = unlink(path(sequence)) }
    }

    private func path(_ sequence: UInt64) -> String {
        let digits = String(sequence)
        return directory + "/" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".json"
    }

    private func entries() -> [(sequence: UInt64, bytes: Int)] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [(UInt64, Int)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.hasSuffix(".json"), name.count == 25, let sequence = UInt64(name.prefix(20)) else { continue }
            var info = stat()
            let size = stat(directory + "/" + name, &info) == 0 ? Int(info.st_size) : 0
            found.append((sequence, size))
        }
        return found.sorted { $0.0 < $1.0 }
    }

    private func enforceBounds() throws(SecureFileError) {
        var all = entries()
        var bytes = all.reduce(0) { $0 + $1.bytes }
        var dropped: UInt64 = 0
        while all.count > 1, all.count > maxCount || bytes > maxBytes {
            let oldest = all.removeFirst()
            unlink(path(oldest.sequence))
            bytes -= oldest.bytes
            dropped += 1
        }
        if dropped > 0 { try SecureFile.write(String(readNumber(droppedFile) + dropped), to: droppedFile) }
    }

    private func readNumber(_ file: String) -> UInt64 {
        (try? SecureFile.readText(file, maxBytes: 64)).flatMap { UInt64($0.trimmed()) } ?? 0
    }
}
