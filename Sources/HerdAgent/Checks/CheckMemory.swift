import HerdProtocol

/// What a check carries from one cycle to the next: a journal cursor, a file offset, last cycle's
/// counters, recent samples for a trend. Small by construction and persisted as JSON in the agent's
/// state directory, so a restart resumes where the last cycle stopped.
public struct CheckMemory: Sendable, Hashable, WireMessage {
    public static let maxEntries = 256
    public static let maxSeriesLength = 256

    public var numbers: [String: Double]
    public var strings: [String: String]
    public var series: [String: [Double]]

    public init(numbers: [String: Double] = [:], strings: [String: String] = [:], series: [String: [Double]] = [:]) {
        self.numbers = numbers
        self.strings = strings
        self.series = series
    }

    public var isEmpty: Bool { numbers.isEmpty && strings.isEmpty && series.isEmpty }

    public func validate() throws(WireError) {
        guard numbers.count + strings.count + series.count <= Self.maxEntries else {
            throw .invalid("memory", "more than \(Self.maxEntries) entries")
        }
        for (key, values) in series where values.count > Self.maxSeriesLength {
            throw .invalid("memory.series.\(key)", "longer than \(Self.maxSeriesLength)")
        }
        for (key, value) in numbers where !value.isFinite {
            throw .invalid("memory.numbers.\(key)", "must be finite")
        }
    }
}
