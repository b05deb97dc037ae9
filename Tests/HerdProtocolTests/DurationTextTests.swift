import HerdProtocol
import Testing

/// The one duration grammar every configuration key and command-line option uses.
@Suite struct DurationTextTests {
    static let wide = Duration.zero...Duration.seconds(400 * 86_400)

    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("30s", .seconds(30)), ("5m", .seconds(300)), ("2h", .seconds(7200)),
        ("7d", .seconds(604_800)), ("0s", .zero), ("90s", .seconds(90)),
    ])
    func readsAWholeNumberAndAUnit(text: String, duration: Duration) {
        #expect(DurationText.parse(text, in: Self.wide) == duration)
    }

    @Test(arguments: [
        "", "5", "s", "1.5h", " 5m", "5m ", "5 m", "-5s", "+5s", "5sec", "5M", "5mm", "٥s", "999999999999999d",
        "9223372036854775807ms0",
    ])
    func refusesAnythingElse(text: String) {
        #expect(DurationText.parse(text, in: Self.wide) == nil)
    }

    @Test func staysWithinItsRange() {
        let range = Duration.seconds(60)...Duration.seconds(3600)
        #expect(DurationText.parse("59s", in: range) == nil)
        #expect(DurationText.parse("1m", in: range) == .seconds(60))
        #expect(DurationText.parse("1h", in: range) == .seconds(3600))
        #expect(DurationText.parse("3601s", in: range) == nil)
        #expect(DurationText.expected(range).hasSuffix("from 1m to 1h"))
    }

    @Test func writesTheLargestWholeUnitAndReadsItBack() {
        for (duration, text) in [
            (Duration.seconds(90), "90s"), (.seconds(3600), "1h"), (.milliseconds(1500), "1500ms"),
            (.seconds(86_400), "1d"), (.seconds(300), "5m"), (.zero, "0s"),
        ] {
            #expect(DurationText.format(duration) == text)
            #expect(DurationText.parse(text, in: Self.wide) == duration)
        }
    }
}
