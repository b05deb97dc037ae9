import FoundationEssentials
import HerdProtocol

/// Playbook step 5, "what does nginx say", from the other log: new lines of the combined-format
/// access.log — request rate, 500/502/503/504 and the posting path (`POST /api/v1/statuses`) on its
/// own, so the controller can tell a Rails 500 from an nginx 502 and correlate 5xx with traffic.
public struct NginxAccessLogCheck: BlockingCheck {
    public let id = "nginx.access_log"
    public let title = "nginx access.log: request rate, 5xx by status, posting failures"
    public let playbookStep = "5 · check nginx (traffic and 5xx)"

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        var memory = context.memory
        var counts = Counts()
        let progress = try context.followFile(context.configuration.nginxAccessLog, memory: &memory) { counts.feed($0) }
        let previous = memory.numbers["at"]
        let now = context.now.timeIntervalSince1970
        memory.numbers["at"] = now
        return Self.evaluate(counts, progress: progress, elapsedSeconds: previous.map { now - $0 }, memory: memory)
    }

    struct Counts: Hashable {
        /// Index = status / 100.
        var byClass = [Int](repeating: 0, count: 6)
        /// 500, 502, 503, 504.
        var server = [Int](repeating: 0, count: 5)
        var posting = 0
        var postingServer = [Int](repeating: 0, count: 5)
        /// API requests (`/api/…`, always proxied to puma) answered 2xx: puma answering at all.
        var api2xx = 0
        var unparsed = 0

        var requests: Int { byClass.reduce(0, +) }

        mutating func feed(_ line: UnsafeBufferPointer<UInt8>) {
            guard let request = NginxLogLine.access(line) else {
                if !line.isEmpty { unparsed += 1 }
                return
            }
            byClass[min(5, max(1, request.status / 100))] += 1
            let isPosting =
                request.path.count == NginxLogLine.statusesPath.count
                && NginxLogLine.hasPrefix(line, request.path, NginxLogLine.statusesPath)
                && NginxLogLine.hasPrefix(line, request.method, NginxLogLine.post) && request.method.count == 4
            if isPosting { posting += 1 }
            if request.status / 100 == 2, NginxLogLine.hasPrefix(line, request.path, NginxLogLine.apiPrefix) {
                api2xx += 1
            }
            if (500...504).contains(request.status) {
                server[request.status - 500] += 1
                if isPosting { postingServer[request.status - 500] += 1 }
            }
        }
    }

    static func evaluate(
        _ counts: Counts, progress: LogFileFollower.Progress, elapsedSeconds: Double?, memory: CheckMemory
    ) -> CheckOutcome {
        let requests = counts.requests
        let errors = counts.byClass[5]
        let postingErrors = counts.postingServer.reduce(0, +)
        var metrics: [String: Double] = [
            "requests": Double(requests), "status_2xx": Double(counts.byClass[2]),
            "status_3xx": Double(counts.byClass[3]), "status_4xx": Double(counts.byClass[4]),
            "status_5xx": Double(errors), "posting.requests": Double(counts.posting),
            "posting.status_5xx": Double(postingErrors), "api.status_2xx": Double(counts.api2xx),
            "unparsed_lines": Double(counts.unparsed),
            "rotated": progress.rotated || progress.truncatedInPlace ? 1 : 0, "lagging": progress.reachedCap ? 1 : 0,
        ]
        for code in [500, 502, 503, 504] {
            let index = code - 500
            metrics["status_\(code)"] = Double(counts.server[index])
            metrics["posting.status_\(code)"] = Double(counts.postingServer[index])
        }
        if let elapsed = elapsedSeconds, elapsed > 0 {
            metrics["requests_per_second"] = Double(requests) / elapsed
            metrics["errors_5xx_per_second"] = Double(errors) / elapsed
        }
        let ratio = requests == 0 ? 0 : Double(errors) / Double(requests)
        var status = CheckStatus.ok
        if postingErrors >= 3 || (errors >= 10 && ratio >= 0.05) {
            status = .critical
        } else if postingErrors > 0 || (errors >= 3 && ratio >= 0.01) || progress.reachedCap {
            status = .warning
        }
        var summary = "\(requests) requests"
        if let elapsed = elapsedSeconds, elapsed > 0 {
            summary += " (\(Describe.decimal(Double(requests) / elapsed))/s)"
        }
        if errors > 0 {
            let codes = [500, 502, 503, 504].filter { counts.server[$0 - 500] > 0 }
                .map { "\(counts.server[$0 - 500])×\($0)" }
            summary +=
                ", \(errors) 5xx (\(Describe.percent(ratio))"
                + (codes.isEmpty ? ")" : ": " + codes.joined(separator: " ") + ")")
        }
        if counts.posting > 0 { summary += ", posting \(postingErrors)/\(counts.posting) failed" }
        if progress.rotated { summary += ", log rotated" }
        if progress.truncatedInPlace { summary += ", log truncated" }
        if progress.reachedCap { summary += ", behind: read cap reached" }
        return CheckOutcome(status, summary, metrics: metrics, memory: memory)
    }
}
