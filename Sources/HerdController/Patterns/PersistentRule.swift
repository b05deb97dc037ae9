import HerdProtocol

/// Persistent: a check non-OK for at least N consecutive results **and** for at least D since the
/// first of them (Prometheus `for:`); over only after M consecutive OK results, so one good cycle in
/// the middle of an outage does not resolve and re-open it. N and M count raw results, every one.
struct PersistentRule: PatternRule {
    let settings: PatternSettings.Persistent
    init(_ settings: PatternSettings.Persistent) { self.settings = settings }

    var pattern: Pattern { .persistent }

    func evaluate(_ input: PatternInput, wasActive: Bool) -> PatternVerdict? {
        let limits = settings.forCheck(input.checkID)
        let troubled = input.recent.reversed().prefix { $0 != "o" }.count
        if wasActive {
            let good = input.recent.reversed().prefix { $0 == "o" }.count
            if good >= limits.resolveResults {
                return PatternVerdict(active: false, detail: "OK for \(good) consecutive results")
            }
            return PatternVerdict(active: true, detail: detail(troubled, input))
        }
        guard troubled > 0, let since = input.troubleSince else { return nil }
        let holds = troubled >= limits.results && input.at - since >= limits.seconds
        return holds ? PatternVerdict(active: true, detail: detail(troubled, input)) : nil
    }

    private func detail(_ troubled: Int, _ input: PatternInput) -> String {
        guard troubled > 0, let since = input.troubleSince else { return "recovering" }
        let run = troubled >= PatternState.recentLength ? "\(troubled)+" : "\(troubled)"
        return "not OK for \(run) consecutive results over \(Duration.describe(input.at - since))"
    }
}

extension Duration {
    /// `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
    static func describe(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded())
        switch s {
        case ..<120: return "\(s) s"
        case ..<3600: return "\(s / 60) min"
        case ..<86_400: return s % 3600 / 60 == 0 ? "\(s / 3600) h" : "\(s / 3600) h \(s % 3600 / 60) min"
        default: return "\(s / 86_400) d \(s % 86_400 / 3600) h"
        }
    }
}
