import HerdProtocol

/// A pattern: a way a check can be in trouble that deserves an incident (DESIGN.md §Patterns).
public enum Pattern: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Non-OK for N consecutive results and for at least D (Prometheus `for:`).
    case persistent
    /// Weighted percent state change over the last 21 raw results above the high threshold (Nagios).
    case flapping
    /// An error category in ≥ k of the last n cycles without being there every cycle.
    case recurring
    /// 5xx rising with the request rate.
    case underLoad = "under_load"

    public static func < (a: Pattern, b: Pattern) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// How an operator reads it: flapping and recurring are both "intermittent".
    public var family: String {
        switch self {
        case .persistent: "persistent"
        case .flapping, .recurring: "intermittent"
        case .underLoad: "errors under load"
        }
    }
}

/// What a rule sees of one check on one instance, right after a result was stored: everything it
/// needs is here, bounded in size, so evaluating a rule is O(1) per result.
public struct PatternInput: Sendable {
    public var checkID: String
    public var status: CheckStatus
    /// `collected_at` of the result.
    public var at: Double
    /// The last raw statuses, oldest first, one letter each (`o w c u`), this result last; at most 21.
    public var recent: String
    /// When the current run of non-OK results began; nil when this result is OK.
    public var troubleSince: Double?
    /// The recent cycles of each error category this check's findings named.
    public var categories: CategoryHistory
    /// Request and 5xx rates per cycle (the nginx access log only).
    public var load: LoadSeries
}

/// A rule's judgement: whether its pattern holds after this result, and why, in a line.
public struct PatternVerdict: Sendable, Hashable {
    public var active: Bool
    public var detail: String
}

/// One pattern rule. One file each, listed in `PatternRegistry` (STYLE.md). `wasActive` carries the
/// rule's own previous verdict, for hysteresis.
public protocol PatternRule: Sendable {
    var pattern: Pattern { get }
    /// nil when the rule has nothing to say about this check (it does not apply, or no evidence yet).
    func evaluate(_ input: PatternInput, wasActive: Bool) -> PatternVerdict?
}

/// Every instance-level pattern rule, in the order incidents list them. The fleet-wide rule works on
/// incidents rather than results (`FleetRule`).
public enum PatternRegistry {
    public static func rules(_ settings: PatternSettings) -> [any PatternRule] {
        [
            PersistentRule(settings.persistent),
            FlappingRule(settings.flapping),
            RecurringCategoryRule(settings.recurring),
            LoadCorrelationRule(settings.load),
        ]
    }
}
