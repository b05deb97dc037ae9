import HerdProtocol

/// Classifies a stream of log lines into counted findings, one count per **event**: an exception and
/// its backtrace, the Rails lines tagged with one request id, or Sidekiq's WARN triple from one thread
/// count once, under the first signature (in table order) that any of their lines matched.
///
/// An event at error severity that no signature names is never silence: the table's severity markers
/// (category `unclassified_error`, always last) or a journald priority ≤ 3 make it an
/// `unclassified_error` tally, one per shape of its message (`UnrecognisedShape`), so that two
/// different unknown errors each show a sample.
///
/// Feed it lines in order; it keeps no line after it has looked at it, so memory does not grow with
/// the input. Lines may hold anything: ANSI colour codes are stripped, bytes that are not UTF-8 are
/// just bytes.
public struct LogClassifier {
    /// What one signature added up to.
    public struct Tally: Encodable, Sendable, Hashable {
        enum CodingKeys: String, CodingKey {
            case category, signature, count, firstLine = "first_line", lastLine = "last_line", sample
        }

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
    /// `unclassified_error` tallies by signature name (marker and shape), at most `maxShapes`.
    private var unrecognised: [String: Tally] = [:]
    /// How many distinct shapes of unrecognised error are told apart; later ones count under "other shapes".
    public static let maxShapes = 16
    private var hits: [MultiPatternMatcher.Match] = []

    private var eventOpen = false
    private var eventSignature: Int?
    /// Whether a line of the open event came with an error priority from its source (journald).
    private var eventPriorityError = false
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
    /// `errorPriority`: the line's source gave it error severity (journald `PRIORITY` ≤ 3).
    public mutating func feed(
        clean line: UnsafeBufferPointer<UInt8>, messageStart start: Int, number: Int, errorPriority: Bool = false
    ) {
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
        if errorPriority, lastLineMatch == nil, !eventPriorityError, eventSignature == nil {
            eventPriorityError = true
            eventSample.removeAll(keepingCapacity: true)
            eventSample.append(contentsOf: line[start...].prefix(Redactor.maxInputBytes))
        }
        guard let match = lastLineMatch else { return }
        if eventSignature.map({ match < $0 }) ?? true {
            eventSignature = match
            eventSample.removeAll(keepingCapacity: true)
            eventSample.append(contentsOf: line[start...].prefix(Redactor.maxInputBytes))
        }
    }

    public mutating func feed(_ line: [UInt8], number: Int, errorPriority: Bool = false) {
        line.withUnsafeBufferPointer { buffer in
            LogLine.withoutANSI(buffer) {
                feed(clean: $0, messageStart: LogLine.messageStart($0), number: number, errorPriority: errorPriority)
            }
        }
    }

    /// Closes the open event and returns every tally (and `extra`'s, counted elsewhere), most frequent first.
    public mutating func finish(adding extra: [Tally] = []) -> [Tally] {
        closeEvent()
        eventOpen = false
        return (Array(tallies.values) + Array(unrecognised.values) + extra).sorted {
            ($0.count, -$0.firstLine, $0.signature) > ($1.count, -$1.firstLine, $1.signature)
        }
    }

    private mutating func closeEvent() {
        defer {
            eventSignature = nil
            eventPriorityError = false
            eventRequestID = 0
            eventSidekiqThread = 0
        }
        guard eventOpen else { return }
        events += 1
        let entry = eventSignature.map { matcher.table.signatures[$0] }
        if entry?.category == .unclassifiedError || (entry == nil && eventPriorityError) {
            countUnrecognised(marker: entry?.name ?? "journald error priority")
            return
        }
        guard let signature = eventSignature, let entry else { return }
        count(&tallies[signature], entry.category, entry.name)
    }

    /// One more event on `tally`, or its first (the sample redacted once, here).
    private func count(_ tally: inout Tally?, _ category: FindingCategory, _ name: String) {
        if tally != nil {
            tally!.count += 1
            tally!.lastLine = eventLine
        } else {
            tally = Tally(
                category: category, signature: name, count: 1, firstLine: eventLine, lastLine: eventLine,
                sample: Redactor.sample(eventSample))
        }
    }

    /// Counts the open event as an unrecognised error of its marker and message shape.
    private mutating func countUnrecognised(marker: String) {
        var name = marker + ": " + UnrecognisedShape.of(eventSample)
        if unrecognised[name] == nil, unrecognised.count >= Self.maxShapes { name = marker + ": other shapes" }
        count(&unrecognised[name], .unclassifiedError, name)
    }
}
