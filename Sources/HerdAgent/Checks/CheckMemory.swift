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

    public init(json r: inout JSONReader) throws(WireError) {
        var memory = CheckMemory()
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "numbers":
                memory.numbers = try r.readDictionary(maxCount: Self.maxEntries) { r throws(WireError) in
                    try r.readDouble()
                }
            case "strings":
                memory.strings = try r.readDictionary(maxCount: Self.maxEntries) { r throws(WireError) in
                    try r.readString()
                }
            case "series":
                memory.series = try r.readDictionary(maxCount: Self.maxEntries) { r throws(WireError) in
                    var values: [Double] = []
                    try r.readArray(maxCount: Self.maxSeriesLength) { r throws(WireError) in
                        values.append(try r.readDouble())
                    }
                    return values
                }
            default: try r.skipValue()
            }
        }
        self = memory
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("numbers", numbers) { w, value in w.number(value) }
            w.field("series", series) { w, values in
                w.array(values) { w, value in w.number(value) }
            }
            w.field("strings", strings) { w, value in w.string(value) }
        }
    }

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
