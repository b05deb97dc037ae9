import HerdProtocol

/// One stored report's results, packed for `history.results`: what changed since the report it is
/// based on, and nothing else. History is most of a controller's disk, and from one minute to the next
/// a check keeps its id, its metric names, usually its summary and its findings' texts, and moves its
/// numbers a little.
///
/// A frame is based on an earlier frame of the same instance in the same block of three hours (`base`,
/// named by its `collected_at`), or on none (a key frame, the first of each block). So a block decodes
/// on its own: rollups and retention need nothing before it, and a frame inserted out of order names its
/// base instead of assuming one. Layout (version 1; integers are LEB128 varints, strings a varint length and UTF-8):
///
/// ```
/// version 1 | base: 0 for a key frame, else 1 + (collected_at − base's collected_at) in ms
/// result count, then per result:
///   flags: status (2 bits) | SAME_SHAPE | SAME_SUMMARY | SAME_FINDING_TEXT
///   unless SAME_SHAPE: check id, metric count, metric names (sorted)
///   duration, then each metric's value (sorted by name), as numbers
///   unless SAME_SUMMARY: summary
///   finding count; per finding: count, then unless SAME_FINDING_TEXT: category, signature,
///   sample flag (0 none, 1 present) and sample
/// ```
///
/// The SAME_ flags compare with the base's result at the same position. A number is
/// `zigzag(d) << 3 | k` for value = m / 10^k with the smallest k in 0…6 that holds it exactly, and d = m
/// minus the base's value at the same scale (rounded) when the base has that number, else d = m; k = 7
/// means the 8 bytes of the IEEE 754 value follow.
struct HistoryFrame: Sendable, Hashable {
    static let version: UInt8 = 1

    var results: [CheckResult]

    init(results: [CheckResult]) { self.results = results }

    enum DecodeError: Error, Equatable {
        case truncated
        case unsupportedVersion(UInt8)
        case missingBase
        case invalid(String)
    }

    private enum Flag {
        static let sameShape: UInt8 = 1 << 2
        static let sameSummary: UInt8 = 1 << 3
        static let sameFindingText: UInt8 = 1 << 4
    }

    // MARK: Encoding

    /// The frame's bytes, based on `base` (collected `baseOffset` milliseconds earlier), or a key frame.
    func encode(base: HistoryFrame?, baseOffset: UInt64) -> [UInt8] {
        var out = PackedWriter()
        out.bytes.append(Self.version)
        out.varint(base == nil ? 0 : baseOffset + 1)
        out.varint(UInt64(results.count))
        for (index, result) in results.enumerated() {
            let previous = base.flatMap { index < $0.results.count ? $0.results[index] : nil }
            let names = result.metrics.keys.sorted()
            let sameShape = previous.map { $0.checkID == result.checkID && $0.metrics.keys.sorted() == names } ?? false
            let sameSummary = previous?.summary == result.summary
            let sameFindingText =
                previous.map { before in
                    before.findings.count == result.findings.count
                        && zip(before.findings, result.findings).allSatisfy { $0.sameText(as: $1) }
                } ?? false
            var flags = UInt8(result.status.code)
            if sameShape { flags |= Flag.sameShape }
            if sameSummary { flags |= Flag.sameSummary }
            if sameFindingText { flags |= Flag.sameFindingText }
            out.bytes.append(flags)
            if !sameShape {
                out.string(result.checkID)
                out.varint(UInt64(names.count))
                for name in names { out.string(name) }
            }
            let before = sameShape ? previous : nil
            out.number(result.durationMilliseconds, base: before?.durationMilliseconds)
            for name in names { out.number(result.metrics[name]!, base: before?.metrics[name]) }
            if !sameSummary { out.string(result.summary) }
            out.varint(UInt64(result.findings.count))
            for finding in result.findings {
                out.varint(finding.count)
                guard !sameFindingText else { continue }
                out.string(finding.category.rawValue)
                out.string(finding.signature)
                if let sample = finding.sample {
                    out.bytes.append(1)
                    out.string(sample)
                } else {
                    out.bytes.append(0)
                }
            }
        }
        return out.bytes
    }

    // MARK: Decoding

    /// How many milliseconds before this frame its base was collected; nil for a key frame.
    static func baseOffset(of bytes: [UInt8]) throws(DecodeError) -> UInt64? {
        var reader = PackedReader(bytes)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let base = try reader.varint()
        return base == 0 ? nil : base - 1
    }

    /// Decodes `bytes`, whose base (if it names one) is `base`.
    init(decoding bytes: [UInt8], base: HistoryFrame?) throws(DecodeError) {
        var reader = PackedReader(bytes)
        let version = try reader.byte()
        guard version == Self.version else { throw .unsupportedVersion(version) }
        let based = try reader.varint() != 0
        if based && base == nil { throw .missingBase }
        let count = try reader.count()
        var results: [CheckResult] = []
        results.reserveCapacity(count)
        for index in 0..<count {
            let previous = based ? base.flatMap { index < $0.results.count ? $0.results[index] : nil } : nil
            let flags = try reader.byte()
            guard let status = CheckStatus(code: Int(flags & 0b11)) else { throw .invalid("status") }
            let checkID: String
            let names: [String]
            if flags & Flag.sameShape != 0 {
                guard let previous else { throw .missingBase }
                checkID = previous.checkID
                names = previous.metrics.keys.sorted()
            } else {
                checkID = try reader.string()
                names = try (0..<reader.count()).map { _ throws(DecodeError) in try reader.string() }
            }
            let before = flags & Flag.sameShape != 0 ? previous : nil
            let duration = try reader.number(base: before?.durationMilliseconds)
            var metrics: [String: Double] = [:]
            metrics.reserveCapacity(names.count)
            for name in names { metrics[name] = try reader.number(base: before?.metrics[name]) }
            let summary: String
            if flags & Flag.sameSummary != 0 {
                guard let previous else { throw .missingBase }
                summary = previous.summary
            } else {
                summary = try reader.string()
            }
            let findingCount = try reader.count()
            var findings: [Finding] = []
            for position in 0..<findingCount {
                let findingTotal = try reader.varint()
                if flags & Flag.sameFindingText != 0 {
                    guard let previous, position < previous.findings.count else { throw .missingBase }
                    var finding = previous.findings[position]
                    finding.count = findingTotal
                    findings.append(finding)
                } else {
                    let category = try reader.string()
                    let signature = try reader.string()
                    let sample = try reader.byte() == 1 ? try reader.string() : nil
                    findings.append(
                        Finding(
                            category: FindingCategory(category), signature: signature, count: findingTotal,
                            sample: sample))
                }
            }
            results.append(
                CheckResult(
                    checkID: checkID, status: status, summary: summary, durationMilliseconds: duration,
                    metrics: metrics, findings: findings))
        }
        guard reader.atEnd else { throw .invalid("bytes after the last result") }
        self.results = results
    }
}

extension Finding {
    fileprivate func sameText(as other: Finding) -> Bool {
        category == other.category && signature == other.signature && sample == other.sample
    }
}

// MARK: Numbers

/// Decimal scaling: the smallest k in 0…6 with value = m / 10^k exactly (bit for bit, through the very
/// expression the reader uses), so counters, byte counts, percentages and milliseconds are small integers.
private enum DecimalScale {
    static let powers: [Double] = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]
    static let raw: UInt64 = 7

    static func of(_ value: Double) -> (k: UInt64, mantissa: Int64)? {
        guard value.isFinite, value.bitPattern != (-0.0 as Double).bitPattern else { return nil }
        for (k, power) in powers.enumerated() {
            let scaled = (value * power).rounded()
            guard abs(scaled) < 9_007_199_254_740_992 else { return nil }
            if (scaled / power).bitPattern == value.bitPattern { return (UInt64(k), Int64(scaled)) }
        }
        return nil
    }

    /// The base's value at this value's scale, rounded: what a difference is taken from. Both sides
    /// compute it by this one expression, so it need not be exact; nil when there is no base or it
    /// does not fit.
    static func mantissa(of base: Double?, k: Int) -> Int64? {
        guard let base, base.isFinite else { return nil }
        let scaled = (base * powers[k]).rounded()
        return abs(scaled) < 9_007_199_254_740_992 ? Int64(scaled) : nil
    }
}

struct PackedWriter {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(256) }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func string(_ text: String) {
        varint(UInt64(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    mutating func number(_ value: Double, base: Double?) {
        guard let (k, mantissa) = DecimalScale.of(value) else {
            varint(DecimalScale.raw)
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
            return
        }
        var stored = mantissa
        if let base = DecimalScale.mantissa(of: base, k: Int(k)) { stored = mantissa &- base }
        varint(UInt64(bitPattern: (stored << 1) ^ (stored >> 63)) << 3 | k)
    }
}

struct PackedReader {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }

    mutating func byte() throws(HistoryFrame.DecodeError) -> UInt8 {
        guard index < bytes.count else { throw .truncated }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func varint() throws(HistoryFrame.DecodeError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw .invalid("varint longer than 64 bits") }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    /// A count that the remaining bytes could hold (each element takes at least one byte).
    mutating func count() throws(HistoryFrame.DecodeError) -> Int {
        let value = try varint()
        guard value <= UInt64(bytes.count - index) else { throw .truncated }
        return Int(value)
    }

    mutating func string() throws(HistoryFrame.DecodeError) -> String {
        let length = try count()
        defer { index += length }
        return String(decoding: bytes[index..<index + length], as: UTF8.self)
    }

    mutating func number(base: Double?) throws(HistoryFrame.DecodeError) -> Double {
        let tag = try varint()
        let k = tag & 7
        guard k != DecimalScale.raw else {
            guard bytes.count - index >= 8 else { throw .truncated }
            var pattern: UInt64 = 0
            for offset in 0..<8 { pattern |= UInt64(bytes[index + offset]) << (8 * offset) }
            index += 8
            return Double(bitPattern: pattern)
        }
        let zigzag = tag >> 3
        var mantissa = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
        if let base = DecimalScale.mantissa(of: base, k: Int(k)) { mantissa = mantissa &+ base }
        return Double(mantissa) / DecimalScale.powers[Int(k)]
    }
}
