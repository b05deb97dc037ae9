#if canImport(Glibc)
    import Glibc
#endif

/// Reads what was appended to a log file since the last cycle, safe across rename rotation and
/// copytruncate: it remembers the file's device, inode and the offset after the last complete line.
///
/// - Same inode, larger or equal size: go on from the offset.
/// - Same inode, smaller size or other bytes before the offset: truncated in place (copytruncate),
///   perhaps grown again since — start again at 0.
/// - New inode: the file was rotated — finish the old one if it sits at `PATH.1` with the remembered
///   inode, then read the new one from 0.
/// - First sight: read only the last `maxBytes` (from the next line start), not the file's history.
///
/// At most `maxBytes` are read per cycle; a half-written last line waits for the next cycle.
public struct LogFileFollower {
    public struct Position: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64
        public var offset: Int64
        /// FNV-1a of the (up to) 64 bytes before `offset`: when a truncated file has grown back past the
        /// offset by the next cycle, the size alone cannot tell, these bytes can.
        public var fingerprint: UInt64

        public init(device: UInt64, inode: UInt64, offset: Int64, fingerprint: UInt64 = 0) {
            self.device = device
            self.inode = inode
            self.offset = offset
            self.fingerprint = fingerprint
        }
    }

    static let fingerprintBytes = 64

    /// The fingerprint of the bytes before `offset` in `fd`, or nil when they cannot be read.
    static func fingerprint(_ fd: Int32, before offset: Int64) -> UInt64? {
        let count = Int(min(Int64(fingerprintBytes), offset))
        var bytes = [UInt8](repeating: 0, count: count)
        guard count == 0 || pread(fd, &bytes, count, off_t(offset - Int64(count))) == count else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }

    public struct Progress: Sendable, Hashable {
        public var position: Position
        public var bytes = 0
        public var lines = 0
        public var truncatedLines = 0
        /// The file was rotated or truncated since the last cycle.
        public var rotated = false
        public var truncatedInPlace = false
        /// Stopped at `maxBytes` with more to read.
        public var reachedCap = false
    }

    public let filesystem: HostFilesystem
    public let maxBytes: Int

    public init(filesystem: HostFilesystem, maxBytes: Int) {
        self.filesystem = filesystem
        self.maxBytes = maxBytes
    }

    /// Reads `path` from `previous`, handing each new complete line to `body` with a running number.
    public func follow(_ path: String, from previous: Position?, _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void)
        throws(HostError) -> Progress
    {
        let fd = try filesystem.openForReading(path)
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .errno(errno, path) }
        let current = HostFilesystem.Status(st)
        var progress = Progress(position: Position(device: current.device, inode: current.inode, offset: 0))
        var budget = maxBytes
        var lineNumber = 0
        func numbered(_ line: UnsafeBufferPointer<UInt8>, _: Int) {
            lineNumber += 1
            body(line, lineNumber)
        }

        var start: Int64
        var skipFirstLine = false
        if let previous, previous.device == current.device, previous.inode == current.inode {
            if current.size < previous.offset || Self.fingerprint(fd, before: previous.offset) != previous.fingerprint {
                progress.truncatedInPlace = true
                start = 0
            } else {
                start = previous.offset
            }
        } else if let previous {
            progress.rotated = true
            // The rest of the rotated file, if it is where logrotate puts it.
            if let old = try? filesystem.status(path + ".1"), old.device == previous.device,
                old.inode == previous.inode, old.size > previous.offset,
                let oldFD = try? filesystem.openForReading(path + ".1")
            {
                defer { close(oldFD) }
                let read = try Self.read(oldFD, from: previous.offset, budget: budget, path: path + ".1", numbered)
                budget -= read.bytes
                progress.bytes += read.bytes
                progress.truncatedLines += read.truncatedLines
                progress.reachedCap = read.reachedCap
            }
            start = 0
        } else {
            start = max(0, current.size - Int64(maxBytes))
            skipFirstLine = start > 0
        }

        if budget > 0 {
            let read = try Self.read(
                fd, from: start, budget: budget, path: path, skipFirstLine: skipFirstLine, numbered)
            progress.position.offset = start + Int64(read.consumed)
            progress.bytes += read.bytes
            progress.truncatedLines += read.truncatedLines
            progress.reachedCap = progress.reachedCap || read.reachedCap
        } else {
            progress.position.offset = start
            progress.reachedCap = true
        }
        progress.position.fingerprint = Self.fingerprint(fd, before: progress.position.offset) ?? 0
        progress.lines = lineNumber
        return progress
    }

    private struct Read {
        var bytes = 0
        var consumed = 0
        var truncatedLines = 0
        var reachedCap = false
    }

    private static func read(
        _ fd: Int32, from offset: Int64, budget: Int, path: String, skipFirstLine: Bool = false,
        _ body: (UnsafeBufferPointer<UInt8>, Int) -> Void
    ) throws(HostError) -> Read {
        // A line longer than the whole budget is cut at it, so that the offset always moves on.
        var splitter = LineSplitter(maxLineBytes: max(1, min(LineSplitter.defaultMaxLineBytes, budget - 1)))
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var position = offset
        var result = Read()
        var skipping = skipFirstLine
        while result.bytes < budget {
            let want = min(chunk.count, budget - result.bytes)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(position)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .errno(errno, path)
            }
            if n == 0 { break }
            position += Int64(n)
            result.bytes += n
            chunk.withUnsafeBufferPointer { buffer in
                splitter.push(UnsafeBufferPointer(rebasing: buffer[0..<n])) { line, number in
                    if skipping {
                        skipping = false
                        return
                    }
                    body(line, number)
                }
            }
        }
        if result.bytes >= budget {
            // More may follow: a single byte tells.
            var probe: UInt8 = 0
            result.reachedCap = pread(fd, &probe, 1, off_t(position)) == 1
        }
        // A line cut at the line cap has been handed over: its unread rest is not worth a re-read.
        result.consumed = splitter.isSkippingCutLine ? result.bytes : splitter.consumedBytes
        result.truncatedLines = splitter.truncatedLines
        return result
    }
}
