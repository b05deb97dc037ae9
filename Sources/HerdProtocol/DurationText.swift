/// The one way Herd writes a duration, in every configuration file and on every command line: a
/// whole number and its unit — `ms`, `s`, `m`, `h` or `d` (`500ms`, `30s`, `5m`, `2h`, `7d`). No
/// fractions, no spaces, no bare numbers.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1),
    ]

    /// The duration `text` writes, when it writes one within `range`; nil otherwise.
    public static func parse(_ text: String, in range: ClosedRange<Duration>) -> Duration? {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 15, let number = Int64(digits),
            let factor = units.first(where: { $0.suffix == text.dropFirst(digits.count) })?.milliseconds
        else { return nil }
        let (milliseconds, overflow) = number.multipliedReportingOverflow(by: factor)
        guard !overflow else { return nil }
        let duration = Duration.milliseconds(milliseconds)
        return range.contains(duration) ? duration : nil
    }

    /// Written in the largest unit that holds it whole: 90 s is `90s`, 3 600 s `1h`, 0.5 s `500ms`.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        guard milliseconds != 0 else { return "0s" }
        let unit = units.first { milliseconds % $0.milliseconds == 0 } ?? units[units.count - 1]
        return "\(milliseconds / unit.milliseconds)\(unit.suffix)"
    }

    /// What a value that is not one should have been.
    public static func expected(_ range: ClosedRange<Duration>) -> String {
        "expected a duration such as 30s, 5m or 2h (a whole number and ms, s, m, h or d), "
            + "from \(format(range.lowerBound)) to \(format(range.upperBound))"
    }
}
