import HerdProtocol
import Testing

@Suite struct WireTimeTests {
    @Test func formatsUTCWithMilliseconds() {
        #expect(WireTime.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(WireTime.format(Date(timeIntervalSince1970: 1_795_284_000.25)) == "2026-11-21T18:00:00.250Z")
        #expect(WireTime.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
    }

    @Test(arguments: [
        ("2026-11-21T18:00:00.120Z", 1_795_284_000.0 + 0.12),
        ("2026-11-21T18:00:00Z", 1_795_284_000.0),
        ("2026-11-21t18:00:00z", 1_795_284_000.0),
        ("2026-11-21T19:30:00+01:30", 1_795_284_000.0),
        ("2026-11-21T16:00:00.5-02:00", 1_795_284_000.0 + 0.5),
        ("2024-02-29T00:00:00.000000001Z", 1_709_164_800.000000001),
    ])
    func parsesRFC3339(text: String, expected: Double) throws {
        let date = try #require(WireTime.parse(text))
        #expect(abs(date.timeIntervalSince1970 - expected) < 1e-6)
    }

    @Test(arguments: [
        "", "2026-11-21", "2026-11-21 18:00:00Z", "2026-11-21T18:00:00", "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T18:60:00Z",
        "1969-12-31T23:59:59Z", "2026-11-21T18:00:00.Z", "2026-11-21T18:00:00.1234567890Z",
        "2026-11-21T18:00:00+0100", "2026-11-21T18:00:00Z ", "２026-11-21T18:00:00Z", "2026-11-21T18:00:00+24:00",
    ])
    func rejectsAnythingElse(text: String) {
        #expect(WireTime.parse(text) == nil)
    }

    @Test func roundTripsEveryMillisecondItWrites() throws {
        var t = 1_700_000_000.0
        for _ in 0..<2_000 {
            t += 12_345.678
            let text = WireTime.format(Date(timeIntervalSince1970: t))
            let back = try #require(WireTime.parse(text))
            #expect(WireTime.format(back) == text)
            #expect(abs(back.timeIntervalSince1970 - t) <= 0.0005 + 1e-6)
        }
    }
}
