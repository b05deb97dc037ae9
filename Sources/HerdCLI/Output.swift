import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Terminal output: aligned columns, colour only on a TTY and never with `NO_COLOR`.
enum Output {
    static var colour: Bool { isatty(STDOUT_FILENO) == 1 && getenv("NO_COLOR") == nil }

    static func paint(_ text: String, state: String) -> String {
        guard colour else { return text }
        let code =
            switch state {
            case "ok": "32"
            case "warning": "33"
            case "critical": "31;1"
            case "silent", "unknown": "35"
            default: "2"
            }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// Prints a line of text that holds values from the controller, its control characters escaped:
    /// no value can drive the terminal or start a line of its own.
    static func say(_ text: String) {
        emit(text.escapingControlCharacters)
    }

    /// Rows padded to their columns' widths (measured before colour is added). Cells come from the
    /// controller: control characters are escaped, so no value can drive the terminal or fake a row.
    static func table(_ header: [String], _ rows: [[String]], paint: (Int, Int, String) -> String = { $2 }) -> String {
        let rows = rows.map { $0.map(\.escapingControlCharacters) }
        // Widths in Unicode scalars: what a terminal shows for the names and ids Herd prints, and
        // unlike `String.count` no grapheme breaking over every cell of a 10 000-row fleet.
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].unicodeScalars.count }.max() ?? 0
        }
        var out = ""
        out.reserveCapacity((widths.reduce(0, +) + 2 * widths.count + 1) * (rows.count + 1))
        func line(_ cells: [String], row: Int) {
            for (column, cell) in cells.enumerated() {
                var padded = cell
                if column < cells.count - 1 {
                    padded.append(String(repeating: " ", count: widths[column] - cell.unicodeScalars.count + 2))
                }
                out.append(row < 0 ? padded : paint(row, column, padded))
            }
        }
        line(header, row: -1)
        for (index, row) in rows.enumerated() {
            out.append("\n")
            line(row, row: index)
        }
        return out
    }

    /// `2026-11-22 03:10:54Z`.
    static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec)
    }

    /// How long before `now` `date` was: `42s`, `5m`, `3h`, `2d`.
    static func age(_ date: Date, now: Date) -> String { age(now.timeIntervalSince(date)) }

    /// `42s`, `5m`, `3h`, `2d`.
    static func age(_ seconds: Double) -> String {
        switch max(0, seconds) {
        case ..<120: "\(Int(seconds))s"
        case ..<7200: "\(Int(seconds / 60))m"
        case ..<172_800: "\(Int(seconds / 3600))h"
        default: "\(Int(seconds / 86_400))d"
        }
    }

    /// One block per hour: ▁ ok, ▄ warning, ▆ unknown, █ critical, · no result.
    static func sparkline(_ hours: String) -> String {
        String(
            hours.map { letter -> Character in
                switch letter {
                case "o": "▁"
                case "w": "▄"
                case "u": "▆"
                case "c": "█"
                default: "·"
                }
            })
    }
}
