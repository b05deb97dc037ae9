import Foundation
import HerdProtocol
import Testing

@testable import HerdController

/// History frames: every result comes back exactly (bit for bit), a frame costs bytes only for what
/// changed, and bytes that are not a frame are a typed error, never a crash.
@Suite struct HistoryFrameTests {
    /// A minute of a real-shaped host: sidekiq, disk, nginx, postgres; values as the checks report them.
    static func minute(_ n: Int) -> [CheckResult] {
        [
            CheckResult(
                checkID: "sidekiq.queues", status: n % 30 == 0 ? .warning : .ok,
                summary: n % 30 == 0 ? "default latency 42 s" : "3 live process(es), 12/75 busy",
                durationMilliseconds: 3.25 + Double(n % 3),
                metrics: [
                    "latency_seconds.default": Double(n % 7) * 0.125, "queued": Double(1204 + n * 3),
                    "retry": 120, "dead": 31, "busy": Double(12 + n % 5),
                ]),
            CheckResult(
                checkID: "disk", status: .ok, summary: "/ 61% used, /var/lib/postgresql 48% used",
                durationMilliseconds: 0.5,
                metrics: [
                    "used_bytes./": 64_424_509_440 + Double(n * 4096), "used_ratio./": 0.61, "inodes_free./": 1e7,
                ]),
            CheckResult(
                checkID: "nginx.error_log", status: n % 10 < 2 ? .critical : .ok,
                summary: n % 10 < 2 ? "upstream timed out 14×" : "no new errors", durationMilliseconds: 12.0,
                metrics: ["requests_5xx": n % 10 < 2 ? 14 : 0, "rate_5xx": n % 10 < 2 ? 0.0231 : 0],
                findings: n % 10 < 2
                    ? [
                        Finding(
                            category: .upstreamTimeout, signature: "upstream timed out (110: Connection timed out)",
                            count: UInt64(14 + n % 2),
                            sample: "2026/12/03 07:01:02 [error] 812#812: *9 upstream timed out"),
                        Finding(category: .other, signature: "client closed connection", count: 2),
                    ] : []),
            CheckResult(
                checkID: "postgres.connections", status: .ok, summary: "41/100 connections in use",
                durationMilliseconds: 1.75,
                metrics: ["in_use": Double(41 + n % 4), "max": 100, "ratio": 0.41 + 0.01 * Double(n % 4)]),
        ]
    }

    /// Encodes an hour the way the store does, each frame on the one before.
    static func encodeHour(_ frames: [[CheckResult]]) -> [[UInt8]] {
        var previous: HistoryFrame?
        return frames.map { results in
            let frame = HistoryFrame(results: results)
            defer { previous = frame }
            return frame.encode(base: previous, baseOffset: 60_000)
        }
    }

    @Test func anHourRoundTripsExactly() throws {
        let minutes = (0..<60).map(Self.minute)
        let encoded = Self.encodeHour(minutes)
        var base: HistoryFrame?
        for (bytes, results) in zip(encoded, minutes) {
            let frame = try HistoryFrame(decoding: bytes, base: base)
            #expect(frame.results == results)
            base = frame
        }
        #expect(try HistoryFrame.baseOffset(of: encoded[0]) == nil)
        #expect(try HistoryFrame.baseOffset(of: encoded[1]) == 60_000)
    }

    /// Unchanged texts and small moves cost a byte or two: the later frames of the hour are a small
    /// fraction of the key frame.
    @Test func aFrameCostsWhatChanged() {
        let encoded = Self.encodeHour((0..<60).map(Self.minute))
        let later = encoded.dropFirst().map(\.count)
        #expect(encoded[0].count > 300)
        #expect(later.reduce(0, +) / later.count < 60, "\(later)")
    }

    @Test(arguments: [
        0.0, -1.5, 1e-7, 123_456.789, 9_007_199_254_740_993.0, -0.0, .pi, 1e300, -2.5e-300,
        Double.leastNonzeroMagnitude,
    ])
    func numbersComeBackBitForBit(value: Double) throws {
        for base in [nil, 0.0, value, 17.25, -3] as [Double?] {
            let before = base.map { HistoryFrame(results: [Self.result(metric: $0)]) }
            let frame = HistoryFrame(results: [Self.result(metric: value)])
            let decoded = try HistoryFrame(decoding: frame.encode(base: before, baseOffset: 1), base: before)
            #expect(decoded.results[0].metrics["m"]?.bitPattern == value.bitPattern, "base \(String(describing: base))")
        }
    }

    static func result(metric: Double) -> CheckResult {
        CheckResult(checkID: "c", status: .ok, summary: "s", durationMilliseconds: 1, metrics: ["m": metric])
    }

    /// A check that appears, disappears or changes its metrics is written out in full; the rest still
    /// refers to the base.
    @Test func shapeChangesAreWrittenInFull() throws {
        var first = Self.minute(1)
        var second = Self.minute(2)
        second.remove(at: 1)
        second[0].metrics["new_metric"] = 5
        second.append(CheckResult(checkID: "media", status: .unknown, summary: "cannot read", durationMilliseconds: 0))
        first[2].findings = []
        let base = HistoryFrame(results: first)
        let decoded = try HistoryFrame(
            decoding: HistoryFrame(results: second).encode(base: base, baseOffset: 5), base: base)
        #expect(decoded.results == second)
    }

    @Test func aFrameNeedsItsBase() throws {
        let encoded = Self.encodeHour([Self.minute(1), Self.minute(2)])
        #expect(throws: HistoryFrame.DecodeError.missingBase) { try HistoryFrame(decoding: encoded[1], base: nil) }
    }

    /// Truncations and random bytes: a typed error or some frame, never a crash or a hang.
    @Test func garbageIsATypedError() {
        let encoded = Self.encodeHour([Self.minute(1)])[0]
        for length in 0..<encoded.count {
            #expect(throws: HistoryFrame.DecodeError.self) {
                try HistoryFrame(decoding: Array(encoded[..<length]), base: nil)
            }
        }
        #expect(throws: HistoryFrame.DecodeError.unsupportedVersion(9)) {
            try HistoryFrame(decoding: [9, 0, 0], base: nil)
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            var bytes = (0..<Int.random(in: 1...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            bytes[0] = HistoryFrame.version
            _ = try? HistoryFrame(decoding: bytes, base: HistoryFrame(results: Self.minute(3)))
        }
    }
}
