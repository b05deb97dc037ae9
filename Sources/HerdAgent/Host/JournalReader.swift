import FoundationEssentials
import HerdProtocol

/// What to read from the journal: some units (or the kernel ring), after a cursor, up to a byte cap.
public struct JournalQuery: Sendable, Hashable {
    /// `-u` patterns, e.g. `mastodon-web.service`, `mastodon-streaming@*.service`.
    public var units: [String]
    /// Kernel messages (`-k`) instead of units.
    public var kernel: Bool
    /// Resume after this entry; when nil, or when the journal no longer knows it, start at `since`.
    public var afterCursor: String?
    public var since: Date
    /// Stop after this many bytes of output; the returned cursor lets the next cycle go on from there.
    public var maxBytes: Int
    public var timeout: Duration

    public init(
        units: [String] = [], kernel: Bool = false, afterCursor: String?, since: Date, maxBytes: Int,
        timeout: Duration
    ) {
        self.units = units
        self.kernel = kernel
        self.afterCursor = afterCursor
        self.since = since
        self.maxBytes = maxBytes
        self.timeout = timeout
    }
}

/// What a read got through.
public struct JournalBatch: Sendable, Hashable {
    /// The cursor of the last entry read; nil when nothing new was read (keep the old one).
    public var lastCursor: String?
    public var entries: Int
    public var bytes: Int
    /// Stopped at `maxBytes` with more to read.
    public var reachedCap: Bool
    /// The journal no longer had the cursor (vacuumed, rotated away): read from `since` instead.
    public var cursorRejected: Bool
    /// Lines of output that were not journal JSON.
    public var unparsed: Int
}

/// Reads the systemd journal entry by entry.
public protocol JournalReader: Sendable {
    func read(_ query: JournalQuery, entry: (JournalEntry) -> Void) throws(HostError) -> JournalBatch
}

/// The real reader: `journalctl -o json`, streamed, never more than the cap in memory.
public struct JournalctlReader: JournalReader {
    public let runner: any ProcessRunner
    public let environment: [String: String]
    /// `-D DIR`: a journal directory other than the system's (a container's, a test's).
    public let directory: String?

    public init(runner: any ProcessRunner, environment: [String: String], directory: String? = nil) {
        self.runner = runner
        self.environment = environment
        self.directory = directory
    }

    public func read(_ query: JournalQuery, entry: (JournalEntry) -> Void) throws(HostError) -> JournalBatch {
        if let cursor = query.afterCursor {
            do {
                return try stream(query, start: ["--after-cursor", cursor], entry: entry)
            } catch let error where error.kind == .invalid {
                var batch = try stream(query, start: since(query), entry: entry)
                batch.cursorRejected = true
                return batch
            }
        }
        return try stream(query, start: since(query), entry: entry)
    }

    private func since(_ query: JournalQuery) -> [String] {
        ["--since", "@\(Int64(query.since.timeIntervalSince1970.rounded(.down)))"]
    }

    func arguments(_ query: JournalQuery, start: [String]) -> [String] {
        var arguments = ["--no-pager", "--output=json", "--output-fields=MESSAGE,_SYSTEMD_UNIT,PRIORITY"]
        if let directory { arguments += ["--directory", directory] }
        if query.kernel {
            arguments.append("--dmesg")
        } else {
            for unit in query.units { arguments += ["--unit", unit] }
        }
        return arguments + start
    }

    private func stream(_ query: JournalQuery, start: [String], entry: (JournalEntry) -> Void) throws(HostError)
        -> JournalBatch
    {
        let request = ProcessRequest(
            "journalctl", arguments(query, start: start), environment: environment, timeout: query.timeout)
        var splitter = LineSplitter()
        var batch = JournalBatch(
            lastCursor: nil, entries: 0, bytes: 0, reachedCap: false, cursorRejected: false, unparsed: 0)
        let outcome = try runner.run(request) { chunk in
            splitter.push(chunk) { line, _ in
                guard !batch.reachedCap else { return }
                batch.bytes += line.count + 1
                guard let parsed = try? JournalEntry.parse(line) else {
                    batch.unparsed += 1
                    return
                }
                batch.entries += 1
                if let cursor = parsed.cursor { batch.lastCursor = cursor }
                entry(parsed)
                if batch.bytes >= query.maxBytes { batch.reachedCap = true }
            }
            return !batch.reachedCap
        }
        if outcome.timedOut {
            throw HostError(.timedOut, "journalctl did not finish within \(query.timeout)")
        }
        if !outcome.succeeded && !outcome.stoppedEarly {
            let message = outcome.stderrLine
            if message.contains("cursor") { throw HostError(.invalid, "journalctl: \(message)") }
            if message.contains("ermission") || message.contains("not seeing messages") {
                throw HostError(.permissionDenied, "journalctl: \(message) (is the agent's user in systemd-journal?)")
            }
            throw HostError(.failed, "journalctl exited with \(outcome.termination): \(message)")
        }
        if batch.entries == 0 && String(decoding: outcome.stderr, as: UTF8.self).contains("not seeing messages") {
            throw HostError(
                .permissionDenied,
                "journalctl shows only this user's messages: add the agent's user to the systemd-journal group")
        }
        return batch
    }
}
