import HerdProtocol

/// What the rules keep per instance × check between results, in `check_state` (migration 0003), in
/// compact text that stays bounded whatever the history.
enum PatternState {
    /// The raw statuses flap detection weighs.
    static let recentLength = 21
}

/// Per error category, which of the last cycles had it: bit 0 is this cycle.
public struct CategoryHistory: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var bits: UInt32
        /// Cycles since the category was first seen, at most 32.
        public var cycles: Int

        public func count(lastCycles window: Int) -> Int {
            let mask: UInt32 = window >= 32 ? .max : (1 << UInt32(window)) - 1
            return (bits & mask).nonzeroBitCount
        }

        /// Separate episodes (runs of cycles with the category) among the last `window` cycles.
        public func episodes(lastCycles window: Int) -> Int {
            let mask: UInt32 = window >= 32 ? .max : (1 << UInt32(window)) - 1
            let seen = bits & mask
            // A run starts at every set bit whose older neighbour (the next bit up) is clear.
            return (seen & ~(seen >> 1)).nonzeroBitCount
        }
    }

    public var entries: [String: Entry] = [:]

    public init(entries: [String: Entry] = [:]) { self.entries = entries }

    /// `category:bits:cycles;…` as stored; anything unreadable is dropped, never fatal.
    init(stored: String) {
        for item in stored.split(separator: ";") {
            let parts = item.split(separator: ":")
            guard parts.count == 3, let bits = UInt32(parts[1]), let cycles = Int(parts[2]) else { continue }
            entries[String(parts[0])] = Entry(bits: bits, cycles: min(32, max(0, cycles)))
        }
    }

    var stored: String {
        entries.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value.bits):\($0.value.cycles)" }
            .joined(separator: ";")
    }

    /// One more cycle: the categories in `present` get a 1, the others a 0; a category absent for 32
    /// cycles is forgotten.
    mutating func advance(present: Set<String>) {
        for category in present where entries[category] == nil { entries[category] = Entry(bits: 0, cycles: 0) }
        for (category, entry) in entries {
            let bits = (entry.bits << 1) | (present.contains(category) ? 1 : 0)
            entries[category] = bits == 0 ? nil : Entry(bits: bits, cycles: min(32, entry.cycles + 1))
        }
    }
}

/// Request and 5xx rates of the last cycles, oldest first.
public struct LoadSeries: Sendable, Hashable {
    public struct Point: Sendable, Hashable {
        public var requests: Double
        public var errors: Double
    }

    public var points: [Point] = []

    public init(points: [Point] = []) { self.points = points }

    init(stored: String) {
        for item in stored.split(separator: ";") {
            let parts = item.split(separator: ",")
            guard parts.count == 2, let r = Double(parts[0]), let e = Double(parts[1]), r.isFinite, e.isFinite
            else { continue }
            points.append(Point(requests: r, errors: e))
        }
    }

    var stored: String {
        points.map { "\(Self.compact($0.requests)),\(Self.compact($0.errors))" }.joined(separator: ";")
    }

    mutating func append(_ point: Point, keep: Int) {
        points.append(point)
        if points.count > keep { points.removeFirst(points.count - keep) }
    }

    private static func compact(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String((value * 1000).rounded() / 1000)
    }
}
