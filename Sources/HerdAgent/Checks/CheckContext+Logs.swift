import FoundationEssentials
import HerdProtocol

/// Incremental log reading for the checks that read logs: the journal from the remembered cursor, a
/// plain file from the remembered position, both capped per cycle. The positions go into the check's
/// memory, which the runner saves only when the check completes.
extension CheckContext {
    /// Reads new journal entries of `units` (or the kernel's) and hands each message to `body`.
    func readJournal(
        units: [String], kernel: Bool = false, memory: inout CheckMemory,
        _ body: (UnsafeBufferPointer<UInt8>, JournalEntry) -> Void
    ) throws(HostError) -> JournalBatch {
        let key = kernel ? "journal.kernel.cursor" : "journal.cursor"
        let query = JournalQuery(
            units: units, kernel: kernel, afterCursor: memory.strings[key],
            since: now.addingTimeInterval(-Double(configuration.intervalSeconds)),
            maxBytes: configuration.logsMaxBytesPerCycle, timeout: remaining)
        let batch = try host.journal.read(query) { entry in
            entry.message.withUnsafeBufferPointer { body($0, entry) }
        }
        if let cursor = batch.lastCursor { memory.strings[key] = cursor }
        return batch
    }

    /// Reads what was appended to `path` since the last cycle and hands each line to `body`.
    func followFile(_ path: String, memory: inout CheckMemory, _ body: (UnsafeBufferPointer<UInt8>) -> Void)
        throws(HostError) -> LogFileFollower.Progress
    {
        let key = "file:" + path
        let follower = LogFileFollower(filesystem: filesystem, maxBytes: configuration.logsMaxBytesPerCycle)
        let progress = try follower.follow(path, from: memory.strings[key].flatMap(Self.position)) { line, _ in
            body(line)
        }
        let p = progress.position
        memory.strings[key] = "\(p.device):\(p.inode):\(p.offset):\(p.fingerprint)"
        return progress
    }

    private static func position(_ text: String) -> LogFileFollower.Position? {
        let parts = text.split(separator: ":")
        guard parts.count == 4, let device = UInt64(parts[0]), let inode = UInt64(parts[1]),
            let offset = Int64(parts[2]), offset >= 0, let fingerprint = UInt64(parts[3])
        else { return nil }
        return LogFileFollower.Position(device: device, inode: inode, offset: offset, fingerprint: fingerprint)
    }
}

extension LogClassifier.Tally {
    var finding: Finding {
        Finding(category: category, signature: signature, count: count, sample: sample.isEmpty ? nil : sample)
    }
}

/// Small helpers for summaries.
enum Describe {
    static func bytes(_ value: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1024 && unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : "\(decimal(amount)) \(units[unit])"
    }

    /// One decimal below 10, none above: `3.4`, `12`.
    static func decimal(_ value: Double) -> String {
        if value < 10 {
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)"
        }
        return String(Int(value.rounded()))
    }

    static func percent(_ ratio: Double) -> String { "\(decimal(ratio * 100))%" }

    static func hours(_ value: Double) -> String {
        value < 1
            ? "\(Int((value * 60).rounded())) min" : value < 48 ? "\(decimal(value)) h" : "\(Int(value / 24)) days"
    }

    /// A metric-name-safe identifier from a unit or path name.
    static func identifier(_ name: String) -> String {
        var out = ""
        for byte in name.utf8.prefix(48) {
            switch byte {
            case 0x61...0x7A, 0x30...0x39, UInt8(ascii: "-"), UInt8(ascii: "_"):
                out.append(Character(Unicode.Scalar(byte)))
            case 0x41...0x5A: out.append(Character(Unicode.Scalar(byte + 0x20)))
            default: out.append("_")
            }
        }
        return out.isEmpty || out.first == "_" || out.first == "-" ? "x" + out : out
    }
}
