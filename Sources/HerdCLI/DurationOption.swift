import ArgumentParser
import HerdProtocol

/// A duration given on the command line (`DurationText`: `30m`, `2h`, `7d`), in seconds; `option`
/// names it in the usage error.
func seconds(of text: String, _ option: String, in range: ClosedRange<Duration>) throws -> Double {
    guard let duration = DurationText.parse(text, in: range) else {
        throw ValidationError("\(option) \(text): \(DurationText.expected(range))")
    }
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
