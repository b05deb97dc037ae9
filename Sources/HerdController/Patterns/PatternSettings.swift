/// Thresholds of the pattern rules, from `controller.conf` (`patterns.*`, `fleet.*`); defaults below
/// and in Controller/controller.conf.example.
public struct PatternSettings: Sendable, Hashable {
    public struct Persistent: Sendable, Hashable {
        /// Consecutive non-OK results before the pattern holds …
        public var results = 3
        /// … and for at least this long (seconds, from the first of them).
        public var seconds: Double = 120
        /// Consecutive OK results before it is over (hysteresis).
        public var resolveResults = 2
        /// Per check: `patterns.persistent.CHECK = RESULTS/SECONDS/RESOLVE`.
        public var overrides: [String: Persistent] = [:]

        public init() {}

        /// Checks that report events, not states: one result is the event itself (a process the kernel
        /// killed is not more killed three cycles later), so one opens the incident at once; it resolves
        /// after 5 quiet cycles, so that it lives long enough to page.
        public static let eventChecks: Set<String> = ["oom"]

        /// A split instance's `oom@sidekiq-1` is `oom`'s (and takes `oom`'s override unless it has its own).
        public func forCheck(_ checkID: String) -> Persistent {
            let plain = CheckName.plain(checkID)
            if let own = overrides[checkID] ?? overrides[plain] { return own }
            guard Self.eventChecks.contains(plain) else { return self }
            var event = self
            event.results = 1
            event.seconds = 0
            event.resolveResults = max(resolveResults, 5)
            return event
        }
    }

    public struct Flapping: Sendable, Hashable {
        /// Percent state change at which a check starts flapping …
        public var high: Double = 30
        /// … and at or below which it stops.
        public var low: Double = 20
        public init() {}
    }

    public struct Recurring: Sendable, Hashable {
        /// Present in at least `count` of the last `window` cycles (window ≤ 32).
        public var count = 3
        public var window = 10
        public init() {}
    }

    public struct Load: Sendable, Hashable {
        /// Cycles of the series kept; the correlation needs at least `minimumPoints`.
        public var window = 30
        public var minimumPoints = 10
        /// Pearson correlation of 5xx rate against request rate to start and to stop.
        public var start = 0.7
        public var stop = 0.4
        /// Cycles with 5xx in the window, at least.
        public var errorCycles = 3
        public init() {}
    }

    public struct Fleet: Sendable, Hashable {
        /// The same trouble on at least this many instances …
        public var minInstances = 3
        /// … or on at least this share of a group of `minGroup` or more (and two instances at least).
        public var minFraction = 0.5
        public var minGroup = 4
        /// Instance incidents updated within this many seconds count as "at once".
        public var windowSeconds: Double = 900
        public init() {}
    }

    public var persistent = Persistent()
    public var flapping = Flapping()
    public var recurring = Recurring()
    public var load = Load()
    public var fleet = Fleet()

    public init() {}
}
