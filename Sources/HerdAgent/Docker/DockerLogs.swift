import FoundationEssentials
import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// The logs of a compose project's containers through the Engine API (`GET /containers/{id}/logs`),
/// read as the journal is for units: the services check's units map to containers (`DockerUnits`),
/// each read from where the last cycle stopped, capped per cycle. Kernel messages still come from the
/// host's journal (`kernel`). stderr lines are priority 3 (err), stdout lines 6 (info).
///
/// The cursor holds, per container, the timestamp of the last line read (`docker1 ID=SECONDS.NANOS …`):
/// the next read asks for lines `since` it and skips those not newer. A container that is gone is
/// dropped from it; a new one is read from `since` of the query (the last interval).
public struct DockerLogs: JournalReader {
    public let units: DockerUnits
    public let kernel: any JournalReader

    public init(units: DockerUnits, kernel: any JournalReader) {
        self.units = units
        self.kernel = kernel
    }

    /// A log timestamp: seconds since the epoch and nanoseconds.
    struct Instant: Comparable, Hashable {
        var seconds: Int64
        var nanoseconds: Int64
        static func < (a: Instant, b: Instant) -> Bool { (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds) }
        var text: String {
            let fraction = String(nanoseconds)
            return "\(seconds).\(String(repeating: "0", count: 9 - fraction.count))\(fraction)"
        }
    }

    public func read(_ query: JournalQuery, entry: (JournalEntry) -> Void) throws(HostError) -> JournalBatch {
        if query.kernel { return try kernel.read(query, entry: entry) }
        let deadline = ContinuousClock.now + query.timeout
        var positions = Self.positions(query.afterCursor)
        let byUnit = try units.containers(timeout: query.timeout)
        var batch = JournalBatch(
            lastCursor: nil, entries: 0, bytes: 0, reachedCap: false, cursorRejected: false, unparsed: 0)
        let queried = byUnit.filter { unit, _ in query.units.contains { fnmatch($0, unit, 0) == 0 } }
        var seen: [String: Instant] = [:]
        for (unit, containers) in queried.sorted(by: { $0.key < $1.key }) {
            for container in containers.sorted(by: { $0.id < $1.id }) {
                let after = positions[container.id]
                let since =
                    after?.text
                    ?? Instant(seconds: Int64(query.since.timeIntervalSince1970.rounded(.down)), nanoseconds: 0).text
                let left = ContinuousClock.now.duration(to: deadline)
                let tty = try units.inspect(container.id, timeout: left).config?.tty ?? false
                let answer = try units.engine.get(
                    "/containers/\(container.id)/logs?stdout=1&stderr=1&timestamps=1&since=\(since)",
                    timeout: ContinuousClock.now.duration(to: deadline),
                    maxBytes: max(0, query.maxBytes - batch.bytes))
                var last = after
                Self.lines(answer.body, tty: tty) { stream, line in
                    guard let (instant, message) = Self.split(line) else {
                        batch.unparsed += 1
                        return
                    }
                    if let after, instant <= after { return }
                    batch.entries += 1
                    batch.bytes += line.count + 1
                    last = instant
                    entry(JournalEntry(message: message, unit: unit, cursor: nil, priority: stream == 2 ? 3 : 6))
                }
                if let last { seen[container.id] = last }
                if answer.truncated || batch.bytes >= query.maxBytes {
                    batch.reachedCap = true
                    break
                }
            }
            if batch.reachedCap { break }
        }
        // Containers not read this time keep their positions, while they still exist.
        let existing = Set(byUnit.values.flatMap { $0.map(\.id) })
        positions = positions.filter { existing.contains($0.key) }.merging(seen) { $1 }
        let cursor = Self.cursor(positions)
        if cursor != query.afterCursor { batch.lastCursor = cursor }
        return batch
    }

    static func positions(_ cursor: String?) -> [String: Instant] {
        guard let cursor, cursor.hasPrefix("docker1") else { return [:] }
        var out: [String: Instant] = [:]
        for item in cursor.split(separator: " ").dropFirst() {
            let parts = item.split(separator: "=")
            let time = parts.count == 2 ? parts[1].split(separator: ".") : []
            guard time.count == 2, let seconds = Int64(time[0]), let nanoseconds = Int64(time[1]) else { continue }
            out[String(parts[0])] = Instant(seconds: seconds, nanoseconds: nanoseconds)
        }
        return out
    }

    static func cursor(_ positions: [String: Instant]) -> String {
        (["docker1"] + positions.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.text)" }).joined(
            separator: " ")
    }

    /// The lines of a logs answer: the multiplexed stream (8-byte frame headers: stream 1 stdout or 2
    /// stderr, then the length) of a container without a TTY, or plain text (stream 1) of one with.
    static func lines(_ body: [UInt8], tty: Bool, _ line: (Int, ArraySlice<UInt8>) -> Void) {
        func split(_ bytes: ArraySlice<UInt8>, stream: Int) {
            var start = bytes.startIndex
            for index in bytes.indices where bytes[index] == 10 {
                line(stream, bytes[start..<index])
                start = index + 1
            }
            if start < bytes.endIndex { line(stream, bytes[start...]) }
        }
        guard !tty else { return split(body[...], stream: 1) }
        var index = 0
        var pending: [Int: [UInt8]] = [:]
        while index + 8 <= body.count {
            let stream = Int(body[index])
            let length = body[index + 4..<index + 8].reduce(0) { $0 << 8 | Int($1) }
            let start = index + 8
            guard [0, 1, 2].contains(stream), start + length <= body.count else { break }
            // A line may span frames: join a stream's frames until its newline.
            var bytes = pending[stream, default: []] + body[start..<start + length]
            if let lastNewline = bytes.lastIndex(of: 10) {
                split(bytes[..<(lastNewline + 1)], stream: stream)
                bytes = Array(bytes[(lastNewline + 1)...])
            }
            pending[stream] = bytes
            index = start + length
        }
        for (stream, bytes) in pending.sorted(by: { $0.key < $1.key }) where !bytes.isEmpty {
            split(bytes[...], stream: stream)
        }
    }

    /// `2026-12-04T06:02:55.276215895Z message` → the instant and the message.
    static func split(_ line: ArraySlice<UInt8>) -> (Instant, [UInt8])? {
        guard let space = line.firstIndex(of: 32) else { return nil }
        let stamp = Array(line[line.startIndex..<space])
        guard stamp.count >= 20, stamp.last == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in stamp[range] {
                guard byte >= 0x30 && byte <= 0x39 else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard stamp[4] == 0x2D, stamp[7] == 0x2D, stamp[10] == 0x54, stamp[13] == 0x3A, stamp[16] == 0x3A,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var nanoseconds: Int64 = 0
        if stamp[19] == 0x2E {
            let digits = stamp[20..<(stamp.count - 1)]
            guard !digits.isEmpty, digits.count <= 9, let fraction = number(20..<(stamp.count - 1)) else { return nil }
            nanoseconds =
                fraction
                * Int64(
                    [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000][
                        9 - digits.count])
        } else if stamp.count != 20 {
            return nil
        }
        // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
        return (Instant(seconds: seconds, nanoseconds: nanoseconds), Array(line[(space + 1)...]))
    }
}
