import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl history INSTANCE [--check ID] [--since 7d] [--until T] [--raw-hours N]`: one instance over
/// days — hourly rollups for the older part, raw results for the last hours — as runs of the same
/// state, or every row with --json.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "One instance's history: hourly rollups, then raw results for the last hours.",
        discussion: """
            The window is --since to --until (each a duration before now such as 90m, 36h, 7d, or an \
            RFC 3339 instant such as 2026-12-01T00:00:00Z; default the last 24 hours). Its last --raw-hours \
            hours (1 to 168, default 24) come as raw results, everything before as hourly rollups (worst \
            status, results per status, each metric's mean, minimum and maximum), which the controller \
            keeps for retention.rollup_days (raw results for retention.raw_days). Text output joins \
            consecutive hours, or results, of the same check and state into one line; --json prints every \
            hour and result, all pages of them, as GET /v1/instances/DOMAIN/history answers.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Argument(help: "The instance's domain.", completion: .custom { _, _, _ in Completion.instances() })
    var instance: String

    @Option(help: ArgumentHelp("One check only.", valueName: "id"))
    var check: String?

    @Option(
        help: ArgumentHelp("Start of the window: a duration before now, or an RFC 3339 instant.", valueName: "when"))
    var since = "24h"

    @Option(
        help: ArgumentHelp("End of the window (default now): a duration before now, or an instant.", valueName: "when"))
    var until: String?

    @Option(help: "The last this many hours of the window as raw results (1 to 168).")
    var rawHours = 24

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("INSTANCE must be a lowercase DNS name") }
        if let check, !Rule.isStoredCheck(check) {
            throw ValidationError(
                "--check must be a check id such as disk (disk@db-1 for one host of a split instance)")
        }
        guard (1...OperatorAPI.History.maxRawHours).contains(rawHours) else {
            throw ValidationError("--raw-hours is 1 to \(OperatorAPI.History.maxRawHours)")
        }
        let start = try Self.instant(since, "--since", now: Date())
        let end = try until.map { try Self.instant($0, "--until", now: Date()) } ?? Date()
        guard start < end else { throw ValidationError("--since must be before --until") }
    }

    /// `7d` (before `now`) or `2026-12-01T00:00:00Z`.
    static func instant(_ text: String, _ option: String, now: Date) throws -> Date {
        if let date = WireTime.parse(text) { return date }
        guard let duration = DurationText.parse(text, in: .seconds(1)...(.seconds(3_660 * 86_400))) else {
            throw ValidationError(
                "\(option) \(text): a duration before now (90m, 36h, 7d) or an RFC 3339 instant (2026-12-01T00:00:00Z)")
        }
        return now.addingTimeInterval(-Double(duration.components.seconds))
    }

    func run() async throws {
        let now = Date()
        let start = try Self.instant(since, "--since", now: now)
        let end = try until.map { try Self.instant($0, "--until", now: now) } ?? now
        // Every page: the controller cuts raw results at its limit and says where to go on from.
        let history = try await withClient(connection) { client in
            var query = "until=\(WireTime.format(end))&raw_hours=\(rawHours)&limit=\(OperatorAPI.History.maxResults)"
            if let check { query += "&check=\(check)" }
            var from = start
            var merged: OperatorAPI.History?
            while true {
                let page = try await client.call(
                    .GET, "/v1/instances/\(instance)/history?since=\(WireTime.format(from))&\(query)",
                    as: OperatorAPI.History.self)
                if var whole = merged {
                    whole.results += page.results
                    whole.next = page.next
                    merged = whole
                } else {
                    merged = page
                }
                guard let next = page.next, next > from else { break }
                from = next
            }
            return merged!
        }
        if connection.json { return try printJSON(history) }
        emit("\(history.instance): \(Output.timestamp(history.since)) to \(Output.timestamp(history.until))")
        if history.rawSince > history.since {
            emit("\nHourly, before \(Output.timestamp(history.rawSince)): runs of hours with the same worst state")
            if history.hours.isEmpty {
                emit("no rollup in this window (rollups are made hourly; older ones are pruned)")
            } else {
                emit(Self.hourRuns(history.hours))
            }
        }
        emit("\nRaw, from \(Output.timestamp(history.rawSince)): runs of results with the same status and summary")
        emit(history.results.isEmpty ? "no result in this window" : Self.resultRuns(history.results))
    }

    /// One line per check and run of consecutive hours with the same worst state: the results per status
    /// and each metric's mean (weighted by its samples), minimum and maximum over the run.
    static func hourRuns(_ hours: [OperatorAPI.HistoryHour]) -> String {
        var rows: [[String]] = []
        var states: [String] = []
        for (check, series) in Dictionary(grouping: hours, by: \.checkId).sorted(by: { $0.key < $1.key }) {
            var run: [OperatorAPI.HistoryHour] = []
            func flush() {
                guard let first = run.first, let last = run.last else { return }
                var metrics: [String: (sum: Double, samples: Int, min: Double, max: Double)] = [:]
                for hour in run {
                    for (name, value) in hour.metrics {
                        let old = metrics[name] ?? (0, 0, value.min, value.max)
                        metrics[name] = (
                            old.sum + value.avg * Double(value.samples), old.samples + value.samples,
                            min(old.min, value.min), max(old.max, value.max)
                        )
                    }
                }
                let counts = [\OperatorAPI.HistoryHour.ok, \.warning, \.critical, \.unknown].map { path in
                    String(run.reduce(0) { $0 + $1[keyPath: path] })
                }
                let shown = metrics.sorted { $0.key < $1.key }.map { name, value in
                    "\(name) \(number(value.sum / Double(max(1, value.samples)))) [\(number(value.min))–\(number(value.max))]"
                }
                rows.append([
                    check, Output.timestamp(first.hour), Output.timestamp(last.hour.addingTimeInterval(3600)),
                    "\(run.count)", first.worst, counts.joined(separator: "/"),
                    String(shown.joined(separator: ", ").prefix(120)),
                ])
                states.append(first.worst)
                run = []
            }
            for hour in series {
                if let last = run.last, last.worst != hour.worst || hour.hour.timeIntervalSince(last.hour) > 3600 {
                    flush()
                }
                run.append(hour)
            }
            flush()
        }
        return Output.table(["CHECK", "FROM", "TO", "HOURS", "WORST", "OK/W/C/U", "METRICS: MEAN [MIN–MAX]"], rows) {
            row, column, text in column == 4 ? Output.paint(text, state: states[row]) : text
        }
    }

    /// One line per check and run of consecutive results with the same status and summary.
    static func resultRuns(_ results: [OperatorAPI.HistoryResult]) -> String {
        var rows: [[String]] = []
        var states: [String] = []
        for (check, series) in Dictionary(grouping: results, by: \.checkId).sorted(by: { $0.key < $1.key }) {
            var run: [OperatorAPI.HistoryResult] = []
            func flush() {
                guard let first = run.first, let last = run.last else { return }
                rows.append([
                    check, Output.timestamp(first.collectedAt), Output.timestamp(last.collectedAt), "\(run.count)",
                    first.status, String(first.summary.prefix(100)),
                ])
                states.append(first.status)
                run = []
            }
            for result in series {
                if let last = run.last, last.status != result.status || last.summary != result.summary { flush() }
                run.append(result)
            }
            flush()
        }
        return Output.table(["CHECK", "FROM", "TO", "RESULTS", "STATUS", "SUMMARY"], rows) { row, column, text in
            column == 4 ? Output.paint(text, state: states[row]) : text
        }
    }

    /// A metric value in at most 4 significant digits, no exponent for everyday sizes.
    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.4g", value)
    }
}
