import Foundation
import HerdProtocol

/// Charts drawn here as SVG, from what `GET /v1/instances/DOMAIN/history` answers: hourly rollups (the
/// mean as the line, minimum to maximum as a band) and then raw results.
enum Chart {
    struct Series: Sendable {
        var name: String
        /// (seconds since the epoch, value), oldest first.
        var points: [(Double, Double)] = []
        /// (hour's middle, minimum, maximum) from rollups.
        var band: [(Double, Double, Double)] = []
    }

    /// One metric of one check over the window: rollups' means (bands from their extremes), then raw values.
    static func series(
        _ history: OperatorAPI.History, check: String, metric: String, name: String? = nil, scale: Double = 1
    ) -> Series {
        var series = Series(name: name ?? metric)
        for hour in history.hours where hour.checkId == check {
            guard let value = hour.metrics[metric] else { continue }
            let middle = hour.hour.timeIntervalSince1970 + 1800
            series.points.append((middle, value.avg * scale))
            series.band.append((middle, value.min * scale, value.max * scale))
        }
        for result in history.results where result.checkId == check {
            if let value = result.metrics[metric] {
                series.points.append((result.collectedAt.timeIntervalSince1970, value * scale))
            }
        }
        return series
    }

    static let palette = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00"]

    /// An SVG of `series` from `from` to `to`; the y axis from 0 to the largest value (or `ceiling`).
    static func svg(title: String, unit: String, series: [Series], from: Double, to: Double, ceiling: Double? = nil)
        -> String
    {
        let width = 640.0
        let height = 180.0
        let left = 48.0
        let bottom = 20.0
        let top = 8.0
        let values = series.flatMap { $0.points.map(\.1) + $0.band.map(\.2) }
        let yMax = ceiling ?? max(values.max() ?? 0, 1) * 1.1
        // A history younger than the window is drawn from its first point, not squeezed to the right edge.
        let first = series.compactMap { $0.points.first?.0 }.min() ?? from
        let from = max(from, first - (to - first) * 0.05)
        func x(_ t: Double) -> Double { left + (t - from) / max(1, to - from) * (width - left - 8) }
        func y(_ v: Double) -> Double { top + (1 - min(max(v / yMax, 0), 1)) * (height - top - bottom) }
        func format(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\""
        out += " aria-label=\"\(HTML.escape(title))\">"
        // Axes: three y ticks, the window's ends on x.
        for tick in [0.0, 0.5, 1.0] {
            let value = yMax * tick
            out +=
                "<line x1=\"\(left)\" x2=\"\(width - 8)\" y1=\"\(format(y(value)))\" y2=\"\(format(y(value)))\" stroke=\"#eaeef2\"/>"
            out +=
                "<text x=\"\(left - 4)\" y=\"\(format(y(value) + 3))\" text-anchor=\"end\">\(label(value))\(HTML.escape(unit))</text>"
        }
        out +=
            "<text x=\"\(left)\" y=\"\(height - 4)\">\(HTML.escape(HTML.time(Date(timeIntervalSince1970: from))))</text>"
        out +=
            "<text x=\"\(width - 8)\" y=\"\(height - 4)\" text-anchor=\"end\">\(HTML.escape(HTML.time(Date(timeIntervalSince1970: to))))</text>"
        var legend = 0.0
        for (index, series) in series.enumerated() {
            let colour = palette[index % palette.count]
            if !series.band.isEmpty {
                let upper = series.band.map { "\(format(x($0.0))),\(format(y($0.2)))" }
                let lower = series.band.reversed().map { "\(format(x($0.0))),\(format(y($0.1)))" }
                out +=
                    "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(colour)\" fill-opacity=\"0.12\"/>"
            }
            if !series.points.isEmpty {
                let points = series.points.map { "\(format(x($0.0))),\(format(y($0.1)))" }.joined(separator: " ")
                out += "<polyline class=\"series\" data-points=\"\(series.points.count)\" points=\"\(points)\""
                out += " fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>"
            }
            out +=
                "<text x=\"\(format(left + 6 + legend))\" y=\"\(top + 10)\" style=\"fill:\(colour)\">\(HTML.escape(series.name))</text>"
            legend += Double(series.name.count) * 6 + 16
        }
        if series.allSatisfy({ $0.points.isEmpty }) {
            out += "<text x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">no data in this window</text>"
        }
        return out + "</svg>"
    }

    /// 0.25, 12, 3.4k, 1.2M.
    static func label(_ value: Double) -> String {
        switch abs(value) {
        case 1e6...: String(format: "%.1fM", value / 1e6)
        case 1e3...: String(format: "%.1fk", value / 1e3)
        case 10...: String(format: "%.0f", value)
        case 0: "0"
        default: String(format: "%.2g", value)
        }
    }

    /// When a filling ratio reaches 1 at the rate a least-squares line through `points` gives (seconds
    /// from the last point); nil when it is not growing, or with less than an hour of history to judge.
    static func secondsToFull(_ points: [(Double, Double)]) -> Double? {
        guard points.count >= 3, let first = points.first, let last = points.last, last.0 - first.0 >= 3600 else {
            return nil
        }
        let n = Double(points.count)
        let meanT = points.map(\.0).reduce(0, +) / n
        let meanV = points.map(\.1).reduce(0, +) / n
        let covariance = points.map { ($0.0 - meanT) * ($0.1 - meanV) }.reduce(0, +)
        let variance = points.map { ($0.0 - meanT) * ($0.0 - meanT) }.reduce(0, +)
        guard variance > 0 else { return nil }
        let slope = covariance / variance
        guard slope > 1e-12 else { return nil }
        let fitted = meanV + slope * (last.0 - meanT)
        return max(0, (1 - fitted) / slope)
    }
}
