import HerdProtocol

/// Intermittent by state changes (Nagios/Icinga flap detection): over the last 21 raw results, each of
/// the 20 transitions that changed the status counts with a weight rising linearly from 0.75 (oldest)
/// to 1.25 (newest); percent = 100 × Σ weights / 20. Flapping starts at ≥ `high` and stops only at
/// ≤ `low`. Every raw result counts — there are no soft states to hide a crash loop that recovers
/// between two checks (Icinga #9750).
struct FlappingRule: PatternRule {
    let settings: PatternSettings.Flapping
    init(_ settings: PatternSettings.Flapping) { self.settings = settings }

    var pattern: Pattern { .flapping }

    /// The weighted percent state change of `recent` (oldest first). With fewer than 21 results the
    /// missing transitions count as unchanged, so a short history never flaps early.
    static func percentStateChange(_ recent: String) -> Double {
        let letters = Array(recent.utf8.suffix(PatternState.recentLength))
        guard letters.count > 1 else { return 0 }
        let transitions = PatternState.recentLength - 1
        // Transition i (0 = oldest of the 20 slots) weighs 0.75 + 0.5 · i / 19; the history fills
        // the newest slots.
        let offset = transitions - (letters.count - 1)
        var total = 0.0
        for index in 1..<letters.count where letters[index] != letters[index - 1] {
            let slot = offset + index - 1
            total += 0.75 + 0.5 * Double(slot) / Double(transitions - 1)
        }
        return 100 * total / Double(transitions)
    }

    func evaluate(_ input: PatternInput, wasActive: Bool) -> PatternVerdict? {
        let percent = Self.percentStateChange(input.recent)
        let detail = "\(Int(percent.rounded())) % state change over the last \(input.recent.count) results"
        if wasActive {
            return PatternVerdict(active: percent > settings.low, detail: detail)
        }
        return percent >= settings.high ? PatternVerdict(active: true, detail: detail) : nil
    }
}
