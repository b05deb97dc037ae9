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
    private var clean: [UInt8] = []
    private var hits: [MultiPatternMatcher.Match] = []

    private var eventOpen = false
    private var eventSignature: Int?
    private var eventLine = 0
    /// The raw bytes (capped) of the line where the event's best signature matched; redacted only if
    /// it becomes a tally's sample, so redaction runs once per signature, not once per event.
    private var eventSample: [UInt8] = []
    private var eventRequestID: [UInt8]?
    private var eventSidekiqThread: [UInt8]?

    public init(matcher: SignatureMatcher = SignatureMatcher(table: .builtIn)) {
        self.matcher = matcher
    }

    /// Looks at one line (without its newline). `number` is reported as first/last line.
    public mutating func feed(_ line: UnsafeBufferPointer<UInt8>, number: Int) {
        lines += 1
        if LogLine.hasEscape(line) {
            LogLine.stripANSI(line, into: &clean)
            clean.withUnsafeBufferPointer { classify($0, number: number) }
        } else {
            classify(line, number: number)
        }
    }

    private mutating func classify(_ line: UnsafeBufferPointer<UInt8>, number: Int) {
        let start = LogLine.messageStart(line)
        let requestID = LogLine.requestID(line, from: start)
        let thread = requestID == nil ? LogLine.sidekiqWarnThread(line, from: start) : nil
        func same(_ range: Range<Int>?, _ open: [UInt8]?) -> Bool {
            guard let range, let open else { return false }
            return LogLine.equal(line, range, open)
        }
        let continues =
            eventOpen
            && (LogLine.isContinuation(line, from: start) || same(requestID, eventRequestID)
                || same(thread, eventSidekiqThread))
        if !continues {
            closeEvent()
            eventOpen = true
            eventLine = number
            eventRequestID = requestID.map { Array(line[$0]) }
            eventSidekiqThread = thread.map { Array(line[$0]) }
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
            eventRequestID = nil
            eventSidekiqThread = nil
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
