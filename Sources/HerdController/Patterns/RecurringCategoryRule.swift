import HerdProtocol

/// Intermittent by error category: a category the check's findings name in at least `count` of the
/// last `window` cycles, in two or more separate episodes — errors that come and go. One unbroken run
/// is an outage (the persistent rule's), or the tail of one that just ended, and never counts. Over
/// only when the category has been absent for the whole window, or has become one unbroken run.
/// Federation failures and `other` are background noise on any busy instance and never count.
struct RecurringCategoryRule: PatternRule {
    let settings: PatternSettings.Recurring
    init(_ settings: PatternSettings.Recurring) { self.settings = settings }

    var pattern: Pattern { .recurring }

    static let ignored: Set<String> = [
        FindingCategory.federationRemoteFailure.rawValue, FindingCategory.other.rawValue,
    ]

    func evaluate(_ input: PatternInput, wasActive: Bool) -> PatternVerdict? {
        var hits: [(category: String, seen: Int, cycles: Int, episodes: Int)] = []
        for (category, history) in input.categories.entries where !Self.ignored.contains(category) {
            hits.append(
                (
                    category, history.count(lastCycles: settings.window), min(history.cycles, settings.window),
                    history.episodes(lastCycles: settings.window)
                ))
        }
        let intermittent = hits.filter { $0.seen >= settings.count && $0.episodes >= 2 }
        if !intermittent.isEmpty {
            return PatternVerdict(active: true, detail: describe(intermittent))
        }
        guard wasActive else { return nil }
        let lingering = hits.filter { $0.seen > 0 && $0.episodes >= 2 }
        if lingering.isEmpty {
            return PatternVerdict(active: false, detail: "no error category recurring any more")
        }
        return PatternVerdict(active: true, detail: describe(lingering))
    }

    private func describe(_ hits: [(category: String, seen: Int, cycles: Int, episodes: Int)]) -> String {
        hits.sorted { $0.category < $1.category }.map { "\($0.category) in \($0.seen) of the last \($0.cycles) cycles" }
            .joined(separator: ", ")
    }
}
