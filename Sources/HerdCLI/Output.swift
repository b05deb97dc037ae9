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

    /// Rows padded to their columns' widths (measured before colour is added).
    static func table(_ header: [String], _ rows: [[String]], paint: (Int, Int, String) -> String = { $2 }) -> String {
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        func line(_ cells: [String], row: Int) -> String {
            cells.enumerated().map { column, cell in
                let padded =
                    column == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
                return row < 0 ? padded : paint(row, column, padded)
            }.joined(separator: "  ")
        }
        return ([line(header, row: -1)] + rows.enumerated().map { line($1, row: $0) }).joined(separator: "\n")
    }

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
