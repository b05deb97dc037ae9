#if canImport(Glibc)
    import Glibc
#endif

/// Reads a file descriptor line by line in fixed chunks, so memory stays bounded whatever the input:
/// a line longer than `maxLineBytes` is cut there (the rest of it is skipped, and counted).
public struct LineReader {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public static let defaultMaxLineBytes = 1 << 20

    private let fd: Int32
    private let maxLineBytes: Int
    /// Lines that were longer than `maxLineBytes` and were cut.
    public private(set) var truncatedLines = 0
    public private(set) var bytesRead = 0

    public init(fd: Int32, maxLineBytes: Int = LineReader.defaultMaxLineBytes) {
        self.fd = fd
        self.maxLineBytes = maxLineBytes
    }

    /// Calls `body` with each line (without its `\n`) and its 1-based number; a last line without a
    /// newline counts too.
    public mutating func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) -> Void) throws(Failure) {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var pending: [UInt8] = []
        var skipping = false
        var number = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "read failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytesRead += count
            chunk.withUnsafeBufferPointer { buffer in
                var start = 0
                while start < count,
                    let hit = memchr(buffer.baseAddress! + start, 0x0A, count - start)
                {
                    let i = buffer.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    defer { start = i + 1 }
                    if skipping {
                        // The end of a line that was already cut and handed over.
                        skipping = false
                        continue
                    }
                    number += 1
                    let segment = buffer[start..<i]
                    let room = maxLineBytes - pending.count
                    if segment.count > room { truncatedLines += 1 }
                    if pending.isEmpty {
                        body(UnsafeBufferPointer(rebasing: segment.prefix(room)), number)
                    } else {
                        pending.append(contentsOf: segment.prefix(room))
                        pending.withUnsafeBufferPointer { body($0, number) }
                        pending.removeAll(keepingCapacity: true)
                    }
                }
                guard !skipping, start < count else { return }
                let rest = buffer[start..<count]
                let room = maxLineBytes - pending.count
                pending.append(contentsOf: rest.prefix(room))
                if rest.count > room {
                    // Past the cap with no newline yet: hand over what fits, skip the rest of the line.
                    number += 1
                    truncatedLines += 1
                    pending.withUnsafeBufferPointer { body($0, number) }
                    pending.removeAll(keepingCapacity: true)
                    skipping = true
                }
            }
        }
        if !pending.isEmpty {
            number += 1
            pending.withUnsafeBufferPointer { body($0, number) }
        }
    }
}
