import HerdProtocol

/// Errors under load: over the last cycles of the nginx access log, the 5xx rate rises with the request
/// rate (Pearson correlation ≥ `start`, 5xx in at least `errorCycles` cycles) — intermittent 500s that
/// point to resource exhaustion (pool, workers, memory) rather than to a broken component. Over when
/// the correlation falls to `stop` or below, or no 5xx is left in the window.
struct LoadCorrelationRule: PatternRule {
    let settings: PatternSettings.Load
    init(_ settings: PatternSettings.Load) { self.settings = settings }

    var pattern: Pattern { .underLoad }

    func evaluate(_ input: PatternInput, wasActive: Bool) -> PatternVerdict? {
        let points = input.load.points
        guard points.count >= settings.minimumPoints else { return nil }
        let errorCycles = points.filter { $0.errors > 0 }.count
        guard let r = Self.correlation(points) else {
            return wasActive ? PatternVerdict(active: false, detail: "request or error rate constant") : nil
        }
        let detail =
            "5xx rate follows request rate (r = \((r * 100).rounded() / 100)) over \(points.count) cycles, 5xx in \(errorCycles)"
        if wasActive {
            return PatternVerdict(active: r > settings.stop && errorCycles > 0, detail: detail)
        }
        return r >= settings.start && errorCycles >= settings.errorCycles
            ? PatternVerdict(active: true, detail: detail) : nil
    }

    /// Pearson's r of errors against requests; nil when either series is constant.
    static func correlation(_ points: [LoadSeries.Point]) -> Double? {
        let n = Double(points.count)
        let meanX = points.reduce(0) { $0 + $1.requests } / n
        let meanY = points.reduce(0) { $0 + $1.errors } / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for point in points {
            let dx = point.requests - meanX, dy = point.errors - meanY
            sxy += dx * dy
            sxx += dx * dx
            syy += dy * dy
        }
        guard sxx > 0, syy > 0 else { return nil }
        return sxy / (sxx * syy).squareRoot()
    }
}
