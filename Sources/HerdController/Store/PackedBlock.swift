/// One instance's block of history (`Store.blockMilliseconds`) packed into one row of `history_packed`,
/// once the day it lies in is over: its frames as they were stored, each with its key and sequence.
/// A row per report costs PostgreSQL ~90 bytes besides the frame (tuple header, line pointer, index
/// entry); a block's ~180 frames in one row pay that once, and the row is large enough to be
/// compressed. Layout (integers are LEB128 varints):
///
/// ```
/// version 2 | entry count, then per entry, oldest first:
///   key − block start (ms) | zigzag(sequence − the entry before's; the first's against 0)
///   frame length | the frame's bytes (`HistoryFrame`)
/// ```
struct PackedBlock: Sendable, Hashable {
    static let version: UInt8 = 2

    struct Entry: Sendable, Hashable {
        var key: Int64
        var sequence: UInt64
        var frame: [UInt8]
    }

    var start: Int64
    /// Oldest first, keys unique and within the block.
    var entries: [Entry]

    func encode() -> [UInt8] {
        var out = PackedWriter()
        out.bytes.reserveCapacity(entries.reduce(8) { $0 + $1.frame.count + 8 })
        out.bytes.append(Self.version)
        out.varint(UInt64(entries.count))
        var previous: UInt64 = 0
        for entry in entries {
            out.varint(UInt64(entry.key - start))
            let delta = Int64(bitPattern: entry.sequence &- previous)
            out.varint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)))
            previous = entry.sequence
            out.varint(UInt64(entry.frame.count))
            out.bytes += entry.frame
        }
        return out.bytes
    }

    init(start: Int64, entries: [Entry]) {
        self.start = start
        self.entries = entries
    }

    init(decoding bytes: [UInt8], start: Int64) throws(HistoryFrame.DecodeError) {
        var reader = PackedReader(bytes)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let count = try reader.count()
        var entries: [Entry] = []
        entries.reserveCapacity(count)
        var sequence: UInt64 = 0
        for _ in 0..<count {
            let offset = try reader.varint()
            guard offset < UInt64(Store.blockMilliseconds) else { throw .invalid("entry outside its block") }
            let zigzag = try reader.varint()
            sequence &+= UInt64(bitPattern: Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1))
            let length = try reader.count()
            let frame = Array(reader.bytes[reader.index..<reader.index + length])
            reader.index += length
            let key = start + Int64(offset)
            if let last = entries.last, last.key >= key { throw .invalid("entries out of order") }
            entries.append(Entry(key: key, sequence: sequence, frame: frame))
        }
        guard reader.atEnd else { throw .invalid("bytes after the last entry") }
        self.start = start
        self.entries = entries
    }
}
