import HerdProtocol

/// Playbook step 1, "read the logs": Mastodon's web, Sidekiq and streaming logs from journald (and any
/// plain log files configured, for docker or redirected installs), read incrementally. Counts requests
/// by status class, `status=500` by error class, exception blocks and Sidekiq job failures, and
/// classifies error events with the signature table.
public struct ApplicationLogsCheck: BlockingCheck {
    public let id = "logs"
    public let title =
        "Mastodon logs: requests by status, 500s by error class, exceptions, Sidekiq failures, error events"
    public let playbookStep = "1 · read the logs"

    /// Categories that mean posting is failing now, whatever their count.
    static let criticalCategories: Set<FindingCategory> = [
        .dbConnection, .dbPoolExhausted, .dbConnectionLimit, .dbSchema, .redisDown, .diskFull, .configError,
    ]
    /// Categories that are background noise on any federated server.
    static let quietCategories: Set<FindingCategory> = [.federationRemoteFailure]

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        let configuration = context.configuration
        var memory = context.memory
        var scan = Scan(matcher: context.signatures)
        var problems: [String] = []
        var sources = 0
        if configuration.logsFromJournal {
            let units = [configuration.webUnit, configuration.sidekiqUnit, configuration.streamingUnits]
            do {
                let batch = try context.readJournal(units: units, memory: &memory) { line, entry in
                    scan.feed(line, errorPriority: entry.isError)
                }
                sources += 1
                scan.bytes += batch.bytes
                scan.lagging = scan.lagging || batch.reachedCap
                if batch.cursorRejected { problems.append("journal cursor expired; read from the last interval") }
            } catch {
                problems.append(error.description)
            }
        }
        for path in configuration.logFiles {
            do {
                let progress = try context.followFile(path, memory: &memory) { scan.feed($0) }
                sources += 1
                scan.bytes += progress.bytes
                scan.truncatedLines += progress.truncatedLines
                scan.lagging = scan.lagging || progress.reachedCap
            } catch {
                problems.append(error.description)
            }
        }
        guard sources > 0 else {
            let reason =
                problems.isEmpty
                ? "no log source configured (logs.journal, logs.files)" : problems.joined(separator: "; ")
            return .unknown(reason)
        }
        return Self.evaluate(&scan, problems: problems, memory: memory)
    }

    /// Everything one cycle's lines add up to.
    struct Scan {
        var classifier: LogClassifier
        var stats = ApplicationLogStats()
        var lines = 0
        var bytes = 0
        var truncatedLines = 0
        var lagging = false

        init(matcher: SignatureMatcher) {
            classifier = LogClassifier(matcher: matcher)
        }

        /// `number`: the line's own number when the caller counts lines (skipping some); else the count.
        mutating func feed(_ line: UnsafeBufferPointer<UInt8>, number: Int? = nil, errorPriority: Bool = false) {
            lines += 1
            let number = number ?? lines
            LogLine.withoutANSI(line) { clean in
                let start = LogLine.messageStart(clean)
                classifier.feed(clean: clean, messageStart: start, number: number, errorPriority: errorPriority)
                stats.feed(clean: clean, messageStart: start, number: number)
            }
        }

        /// How a line that may be `journalctl -o json` output is read.
        enum JournalLines { case never, recognised, only }

        /// A line of a log of unknown origin (`scan-log`, the real-world corpus): journald JSON lines
        /// are read as their entries when `journal` allows. False when a line had to be journald JSON
        /// (`.only`) and was not: it is skipped.
        mutating func feed(anyLine line: UnsafeBufferPointer<UInt8>, number: Int, journal: JournalLines) -> Bool {
            // Only a line with journald's `"MESSAGE":` is parsed (`.only`: every line): other JSON, pino's
            // streaming lines, is text, and a parse that fails costs microseconds per line.
            if journal == .only
                || (journal == .recognised && line.first == UInt8(ascii: "{") && JournalEntry.mightBeOne(line))
            {
                if let entry = try? JournalEntry.parse(line) {
                    entry.message.withUnsafeBufferPointer { feed($0, number: number, errorPriority: entry.isError) }
                    return true
                }
                if journal == .only { return false }
            }
            feed(line, number: number)
            return true
        }

        /// Every event's tally and the 500s no signature names, most frequent first.
        mutating func tallies() -> [LogClassifier.Tally] {
            classifier.finish(adding: stats.unrecognised500s(classifier.matcher))
        }
    }

    static func evaluate(_ scan: inout Scan, problems: [String], memory: CheckMemory) -> CheckOutcome {
        let stats = scan.stats
        let findings = Array(scan.tallies().map(\.finding).prefix(Limits.maxFindingsPerResult))

        let requests = stats.requests
        let errors5xx = stats.requestsByClass[5]
        var metrics: [String: Double] = [
            "lines": Double(scan.lines), "bytes": Double(scan.bytes), "requests": Double(requests),
            "requests_2xx": Double(stats.requestsByClass[2]), "requests_3xx": Double(stats.requestsByClass[3]),
            "requests_4xx": Double(stats.requestsByClass[4]), "requests_5xx": Double(errors5xx),
            "requests_500": Double(stats.status500), "posting.requests": Double(stats.postingRequests),
            "posting.failures": Double(stats.postingFailures), "exceptions": Double(stats.exceptions),
            "sidekiq.jobs_done": Double(stats.sidekiqDone), "sidekiq.jobs_failed": Double(stats.sidekiqFailed),
            "events": Double(scan.classifier.events), "lagging": scan.lagging ? 1 : 0,
        ]
        if scan.truncatedLines > 0 { metrics["truncated_lines"] = Double(scan.truncatedLines) }

        var status = CheckStatus.ok
        let categories = Set(findings.map(\.category))
        if !categories.isDisjoint(with: criticalCategories) || stats.postingFailures >= 3
            || (errors5xx >= 5 && Double(errors5xx) >= 0.1 * Double(requests))
        {
            status = .critical
        } else if errors5xx > 0 || stats.postingFailures > 0
            || categories.contains(where: { !quietCategories.contains($0) }) || !problems.isEmpty || scan.lagging
        {
            status = .warning
        }

        var parts = ["\(requests) requests"]
        if errors5xx > 0 {
            var text = "\(errors5xx) 5xx"
            if let top = stats.errors500.max(by: { $0.value.count < $1.value.count }) {
                text += " (500: \(top.key) ×\(top.value.count))"
            }
            parts.append(text)
        }
        if stats.postingFailures > 0 { parts.append("\(stats.postingFailures) failed posts") }
        if stats.exceptions > 0 { parts.append("\(stats.exceptions) exceptions") }
        if stats.sidekiqFailed > 0 { parts.append("\(stats.sidekiqFailed) Sidekiq job failures") }
        if let top = findings.first { parts.append("top error: \(top.category) \(top.signature) ×\(top.count)") }
        // Lines past the cap wait for the next cycle; a log that fills the cap every cycle falls behind
        // for good, and what it says arrives late: that is a warning, not ok.
        if scan.lagging { parts.append("behind: read cap reached") }
        parts += problems
        return CheckOutcome(status, parts.joined(separator: ", "), metrics: metrics, findings: findings, memory: memory)
    }
}
