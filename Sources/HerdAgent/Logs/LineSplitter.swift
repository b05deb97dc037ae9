#if canImport(Glibc)
    import Glibc
#endif

/// Cuts bytes pushed in chunks of any size into lines, with memory bounded whatever the input: a line
/// longer than `maxLineBytes` is handed over cut at that length, and the rest of it is skipped (and counted).
///
/// `consumedBytes` is the offset just past the last newline seen, so a follower can resume exactly there
/// and never hand over half a line that is still being written.
public struct LineSplitter {
    public static let defaultMaxLineBytes = 1 << 20

    public let maxLineBytes: Int
    /// Lines that were longer than `maxLineBytes` and were cut.
    public private(set) var truncatedLines = 0
    /// Lines handed over so far; also the number of the last one.
    public private(set) var lineCount = 0
    /// Bytes pushed so far.
    public private(set) var bytesSeen = 0
    /// Bytes up to and including the last newline.
    public private(set) var consumedBytes = 0
    private var pending: [UInt8] = []
    private var skipping = false

    public init(maxLineBytes: Int = LineSplitter.defaultMaxLineBytes) {
        precondition(maxLineBytes > 0)
        self.maxLineBytes = maxLineBytes
    }

    /// Whether bytes after the last newline are waiting for the rest of their line.
    public var hasPartialLine: Bool { !pending.isEmpty || skipping }

    /// Whether the bytes after the last newline belong to a line already handed over cut.
    public var isSkippingCutLine: Bool { skipping }

    /// Hands each complete line in `chunk` (and in what came before it) to `body`, without its `\n`.
    public mutating func push(_ chunk: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) {
        guard let base = chunk.baseAddress, !chunk.isEmpty else { return }
        let count = chunk.count
        var start = 0
        while start < count, let hit = memchr(base + start, 0x0A, count - start) {
            let i = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            defer {
                start = i + 1
                consumedBytes = bytesSeen + start
            }
            if skipping {
                // The end of a line that was already cut and handed over.
                skipping = false
                continue
            }
            lineCount += 1
            let segment = chunk[start..<i]
            let room = maxLineBytes - pending.count
            if segment.count > room { truncatedLines += 1 }
            if pending.isEmpty {
                body(UnsafeBufferPointer(rebasing: segment.prefix(room)), lineCount)
            } else {
                pending.append(contentsOf: segment.prefix(room))
                pending.withUnsafeBufferPointer { body($0, lineCount) }
                pending.removeAll(keepingCapacity: true)
            }
        }
        defer { bytesSeen += count }
        guard !skipping, start < count else { return }
        let rest = chunk[start..<count]
        let room = maxLineBytes - pending.count
        pending.append(contentsOf: rest.prefix(room))
        if rest.count > room {
            // Past the cap with no newline yet: hand over what fits, skip the rest of the line.
            lineCount += 1
            truncatedLines += 1
            pending.withUnsafeBufferPointer { body($0, lineCount) }
            pending.removeAll(keepingCapacity: true)
            skipping = true
        }
    }

    /// Hands over a last line that has no newline. Only for input that has ended (a pipe, a pasted
    /// log); a follower of a growing file leaves it for the next cycle instead.
    public mutating func finish(_ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) {
        defer {
            pending.removeAll(keepingCapacity: true)
            skipping = false
            consumedBytes = bytesSeen
        }
        guard !pending.isEmpty else { return }
        lineCount += 1
        pending.withUnsafeBufferPointer { body($0, lineCount) }
    }
}

/// Reads a file descriptor to its end, line by line in 64 KiB chunks (see `LineSplitter`).
public struct LineReader {
    public struct ReadError: Error, CustomStringConvertible {
        public var description: String
    }

    public static let defaultMaxLineBytes = LineSplitter.defaultMaxLineBytes

    private let fd: Int32
    private var splitter: LineSplitter
    public var truncatedLines: Int { splitter.truncatedLines }
    public var bytesRead: Int { splitter.bytesSeen }

    public init(fd: Int32, maxLineBytes: Int = LineReader.defaultMaxLineBytes) {
        self.fd = fd
        self.splitter = LineSplitter(maxLineBytes: maxLineBytes)
    }

    /// Calls `body` with each line (without its `\n`) and its 1-based number; a last line without a
    /// newline counts too.
    public mutating func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) throws(ReadError) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(description: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            chunk.withUnsafeBufferPointer { splitter.push(UnsafeBufferPointer(rebasing: $0[0..<count]), body) }
        }
        splitter.finish(body)
    }
}
