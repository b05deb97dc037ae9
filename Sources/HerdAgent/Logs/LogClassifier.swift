import HerdProtocol

/// Classifies a stream of log lines into counted findings, one count per **event**: an exception and
/// its backtrace, the Rails lines tagged with one request id, or Sidekiq's WARN triple from one thread
/// count once, under the first signature (in table order) that any of their lines matched.
///
/// Feed it lines in order; it keeps no line after it has looked at it, so memory does not grow with
/// the input. Lines may hold anything: ANSI colour codes are stripped, bytes that are not UTF-8 are
/// just bytes.
public struct LogClassifier {
    /// What one signature added up to.
    public struct Tally: Sendable, Hashable {
        public var category: FindingCategory
        public var signature: String
        public var count: UInt64
        public var firstLine: Int
        public var lastLine: Int
        /// A redacted line from the first event, where the signature matched.
        public var sample: String
    }

    public let matcher: SignatureMatcher
    public private(set) var lines = 0
    public private(set) var events = 0
    /// The signature the last line fed matched, if any (for checks that also count per line).
    public private(set) var lastLineMatch: Int?
    private var tallies: [Int: Tally] = [:]
    private var hits: [MultiPatternMatcher.Match] = []

    private var eventOpen = false
    private var eventSignature: Int?
    private var eventLine = 0
    /// The raw bytes (capped) of the line where the event's best signature matched; redacted only if
    /// it becomes a tally's sample, so redaction runs once per signature, not once per event.
    private var eventSample: [UInt8] = []
    /// Fingerprints of the open event's request id and Sidekiq thread (0: it has none). Nearly every
    /// line opens an event, so keeping a copy of the bytes would cost an allocation per line.
    private var eventRequestID: UInt64 = 0
    private var eventSidekiqThread: UInt64 = 0

    public init(matcher: SignatureMatcher = SignatureMatcher(table: .builtIn)) {
        self.matcher = matcher
    }

    /// Looks at one line (without its newline). `number` is reported as first/last line.
    public mutating func feed(_ line: UnsafeBufferPointer<UInt8>, number: Int) {
        LogLine.withoutANSI(line) { feed(clean: $0, messageStart: LogLine.messageStart($0), number: number) }
    }

    /// `feed` for a line a caller has already stripped of colour codes and found the message start of
    /// (`LogLine.withoutANSI`, `LogLine.messageStart`), when it hands the same line to other counters too.
    public mutating func feed(clean line: UnsafeBufferPointer<UInt8>, messageStart start: Int, number: Int) {
        lines += 1
        let requestID = LogLine.requestID(line, from: start)
        let thread = requestID == nil ? LogLine.sidekiqWarnThread(line, from: start) : nil
        let requestKey = requestID.map { LogLine.fingerprint(line, $0) } ?? 0
        let threadKey = thread.map { LogLine.fingerprint(line, $0) } ?? 0
        let continues =
            eventOpen
            && (LogLine.isContinuation(line, from: start) || (requestKey != 0 && requestKey == eventRequestID)
                || (threadKey != 0 && threadKey == eventSidekiqThread))
        if !continues {
            closeEvent()
            eventOpen = true
            eventLine = number
            eventRequestID = requestKey
            eventSidekiqThread = threadKey
        }
        lastLineMatch = matcher.firstMatch(in: line, scratch: &hits)
        guard let match = lastLineMatch else { return }
        if eventSignature.map({ match < $0 }) ?? true {
            eventSignature = match
            eventSample.removeAll(keepingCapacity: true)
            eventSample.append(contentsOf: line[start...].prefix(Redactor.maxInputBytes))
        }
    }

    public mutating func feed(_ line: [UInt8], number: Int) {
        line.withUnsafeBufferPointer { feed($0, number: number) }
    }

    /// Closes the open event and returns every tally, most frequent first.
    public mutating func finish() -> [Tally] {
        closeEvent()
        eventOpen = false
        return tallies.values.sorted { ($0.count, -$0.firstLine) > ($1.count, -$1.firstLine) }
    }

    private mutating func closeEvent() {
        defer {
            eventSignature = nil
            eventRequestID = 0
            eventSidekiqThread = 0
        }
        guard eventOpen else { return }
        events += 1
        guard let signature = eventSignature else { return }
        if var tally = tallies[signature] {
            tally.count += 1
            tally.lastLine = eventLine
            tallies[signature] = tally
        } else {
            let entry = matcher.table.signatures[signature]
            tallies[signature] = Tally(
                category: entry.category, signature: entry.name, count: 1, firstLine: eventLine, lastLine: eventLine,
                sample: Redactor.sample(eventSample))
        }
    }
}
