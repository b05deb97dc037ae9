import HerdProtocol

/// Playbook step 5, "what does nginx say": new lines of nginx's error.log, upstream failures split
/// into the 502 family (refused, socket missing, prematurely closed, no live upstreams, reset →
/// `upstream_unreachable`) and the 504 family (`upstream_timeout`), per upstream: `backend` (puma)
/// or `streaming` (node, `/api/v1/streaming`), with the posting path counted on its own.
public struct NginxErrorLogCheck: BlockingCheck {
    public let id = "nginx.error_log"
    public let title = "nginx error.log: upstream unreachable (502) vs timed out (504), per upstream"
    public let playbookStep = "5 · check nginx's error log"

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        var memory = context.memory
        var counts = Counts(matcher: context.signatures)
        let progress = try context.followFile(context.configuration.nginxErrorLog, memory: &memory) { counts.feed($0) }
        return Self.evaluate(&counts, progress: progress, memory: memory)
    }

    struct Counts {
        var classifier: LogClassifier
        /// [backend, streaming] × [unreachable, timeout]
        var upstream = [[0, 0], [0, 0]]
        var posting = [0, 0]
        var lines = 0

        init(matcher: SignatureMatcher) {
            classifier = LogClassifier(matcher: matcher)
        }

        mutating func feed(_ line: UnsafeBufferPointer<UInt8>) {
            lines += 1
            classifier.feed(line, number: lines)
            guard let match = classifier.lastLineMatch else { return }
            let category = classifier.matcher.table.signatures[match].category
            let family = category == .upstreamUnreachable ? 0 : category == .upstreamTimeout ? 1 : -1
            guard family >= 0 else { return }
            let path = NginxLogLine.errorRequestPath(line)
            let streaming = path.map { NginxLogLine.hasPrefix(line, $0, NginxLogLine.streamingPath) } ?? false
            upstream[streaming ? 1 : 0][family] += 1
            if NginxLogLine.isPosting(errorLine: line) { posting[family] += 1 }
        }
    }

    static func evaluate(_ counts: inout Counts, progress: LogFileFollower.Progress, memory: CheckMemory)
        -> CheckOutcome
    {
        let findings = Array(counts.classifier.finish().map(\.finding).prefix(Limits.maxFindingsPerResult))
        let u = counts.upstream
        var metrics: [String: Double] = [
            "lines": Double(progress.lines), "bytes": Double(progress.bytes),
            "backend.upstream_unreachable": Double(u[0][0]), "backend.upstream_timeout": Double(u[0][1]),
            "streaming.upstream_unreachable": Double(u[1][0]), "streaming.upstream_timeout": Double(u[1][1]),
            "posting.upstream_unreachable": Double(counts.posting[0]),
            "posting.upstream_timeout": Double(counts.posting[1]),
            "rotated": progress.rotated || progress.truncatedInPlace ? 1 : 0, "lagging": progress.reachedCap ? 1 : 0,
        ]
        if progress.truncatedLines > 0 { metrics["truncated_lines"] = Double(progress.truncatedLines) }
        let backend = u[0][0] + u[0][1]
        let streaming = u[1][0] + u[1][1]
        let permission = findings.filter { $0.category == .permissionDenied }.reduce(0) { $0 + $1.count }
        var status = CheckStatus.ok
        if backend >= 10 || counts.posting[0] + counts.posting[1] >= 3 {
            status = .critical
        } else if backend + streaming > 0 || permission > 0 || progress.reachedCap {
            status = .warning
        }
        var parts: [String] = []
        if backend > 0 { parts.append("backend: \(u[0][0]) unreachable (502), \(u[0][1]) timed out (504)") }
        if streaming > 0 { parts.append("streaming: \(u[1][0]) unreachable, \(u[1][1]) timed out") }
        if counts.posting[0] + counts.posting[1] > 0 {
            parts.append("POST /api/v1/statuses failed upstream \(counts.posting[0] + counts.posting[1])×")
        }
        if permission > 0 { parts.append("\(permission) permission denied") }
        if parts.isEmpty { parts.append("no upstream errors in \(progress.lines) new lines") }
        if progress.rotated { parts.append("log rotated") }
        if progress.truncatedInPlace { parts.append("log truncated") }
        if progress.reachedCap { parts.append("behind: read cap reached") }
        return CheckOutcome(status, parts.joined(separator: "; "), metrics: metrics, findings: findings, memory: memory)
    }
}
