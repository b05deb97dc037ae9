import HerdProtocol

/// A check's patterns before and after one result: what the incident book acts on.
struct PatternChange: Sendable {
    var checkID: String
    var status: CheckStatus
    var summary: String
    /// The raw statuses after this result, oldest first.
    var recent: String
    var before: Set<Pattern>
    var after: [Pattern: String]
    /// Error categories the check's findings named in the recent cycles.
    var categories: [String]
}

/// Runs the pattern rules on each stored result, inside the report's transaction, from the state kept
/// in `check_state` — O(1) per result. Settings come from `controller.conf`.
public struct PatternEngine: Sendable {
    public var settings: PatternSettings
    /// Receivers and routes (`notify.*`): a transition gets one notification per receiver its routes choose.
    public var routing: NotificationRouting
    /// Instance incidents wait this long before they notify, so a fleet incident can absorb them.
    public var groupWait: Double
    let rules: [any PatternRule]
    let enabled: Bool

    /// No pattern evaluation at all: what ingest costs without it (benchmarks compare the two).
    public static let off = PatternEngine(enabled: false)

    private init(enabled: Bool) {
        settings = PatternSettings()
        routing = NotificationRouting()
        groupWait = 0
        rules = []
        self.enabled = enabled
    }

    public init(
        settings: PatternSettings = PatternSettings(), routing: NotificationRouting = NotificationRouting(),
        groupWait: Double = 30
    ) {
        self.settings = settings
        self.routing = routing
        self.groupWait = groupWait
        rules = PatternRegistry.rules(settings)
        enabled = true
    }

    /// What `check_state` holds for the rules (columns of migration 0003).
    struct Kept {
        var recent: String
        var troubleSince: Double?
        var patterns: String
        var categories: String
        var series: String
    }

    /// The verdicts after `result`; `update` is what to write back when it differs from `kept`.
    func evaluate(_ result: CheckResult, at: Double, kept: Kept) -> (
        update: (patterns: String, categories: String, series: String)?, change: PatternChange?
    ) {
        guard enabled else { return (nil, nil) }
        let present = Set(
            result.findings.map(\.category.rawValue).filter { !RecurringCategoryRule.ignored.contains($0) })
        let hasLoad = result.metrics["requests_per_second"] != nil && result.metrics["errors_5xx_per_second"] != nil
        // The usual result of a healthy fleet: no pattern, nothing kept, nothing new, nothing but OK in
        // the last 21 results — no rule can start, and there is nothing to write.
        if kept.patterns.isEmpty, kept.categories.isEmpty, present.isEmpty, !hasLoad,
            kept.recent.utf8.allSatisfy({ $0 == UInt8(ascii: "o") })
        {
            return (nil, nil)
        }
        var categories = CategoryHistory(stored: kept.categories)
        if !present.isEmpty || !categories.entries.isEmpty { categories.advance(present: present) }
        var load = LoadSeries(stored: kept.series)
        if hasLoad, let requests = result.metrics["requests_per_second"],
            let errors = result.metrics["errors_5xx_per_second"]
        {
            load.append(.init(requests: requests, errors: errors), keep: settings.load.window)
        }
        let before = Set(kept.patterns.split(separator: ",").compactMap { Pattern(rawValue: String($0)) })
        let input = PatternInput(
            checkID: result.checkID, status: result.status, at: at, recent: kept.recent,
            troubleSince: kept.troubleSince, categories: categories, load: load)
        var after: [Pattern: String] = [:]
        for rule in rules {
            let wasActive = before.contains(rule.pattern)
            let verdict = rule.evaluate(input, wasActive: wasActive)
            if verdict?.active ?? wasActive { after[rule.pattern] = verdict?.detail ?? "" }
        }
        let patterns = after.keys.sorted().map(\.rawValue).joined(separator: ",")
        let storedCategories = categories.stored
        let storedSeries = load.stored
        let update =
            (patterns, storedCategories, storedSeries) == (kept.patterns, kept.categories, kept.series)
            ? nil : (patterns, storedCategories, storedSeries)
        guard !before.isEmpty || !after.isEmpty else { return (update, nil) }
        return (
            update,
            PatternChange(
                checkID: result.checkID, status: result.status, summary: result.summary, recent: kept.recent,
                before: before, after: after,
                categories: categories.entries.keys.filter {
                    categories.entries[$0]!.count(lastCycles: settings.recurring.window) > 0
                }
                .sorted())
        )
    }
}
