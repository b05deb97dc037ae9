/// The result of one check in one cycle.
public struct CheckResult: WireMessage, Hashable {
    /// The check's catalogue id, e.g. `disk` or `nginx.error_log`.
    public var checkID: String
    public var status: CheckStatus
    /// One line for humans; for `unknown` it says why the check could not decide.
    public var summary: String
    public var durationMilliseconds: Double
    /// Name → value, e.g. `requests_5xx` → 12. Names are identifiers; values finite.
    public var metrics: [String: Double]
    public var findings: [Finding]

    public init(
        checkID: String, status: CheckStatus, summary: String, durationMilliseconds: Double,
        metrics: [String: Double] = [:], findings: [Finding] = []
    ) {
        self.checkID = checkID
        self.status = status
        self.summary = summary
        self.durationMilliseconds = durationMilliseconds
        self.metrics = metrics
        self.findings = findings
    }

    enum CodingKeys: String, CodingKey {
        case checkID = "check_id", status, summary, durationMilliseconds = "duration_ms", metrics, findings
    }

    public func validate() throws(WireError) {
        try validate(at: "result")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        try Rule.identifier(checkID, "\(path()).check_id")
        try Rule.line(summary, "\(path()).summary", maxBytes: Limits.maxSummaryBytes)
        try Rule.finite(durationMilliseconds, "\(path()).duration_ms")
        guard durationMilliseconds >= 0 else { throw .invalid("\(path()).duration_ms", "must not be negative") }
        try Rule.count(metrics.count, "\(path()).metrics", max: Limits.maxMetricsPerResult)
        for (name, value) in metrics {
            try Rule.identifier(name, "\(path()).metrics.\(name)")
            try Rule.finite(value, "\(path()).metrics.\(name)")
        }
        try Rule.count(findings.count, "\(path()).findings", max: Limits.maxFindingsPerResult)
        for (index, finding) in findings.enumerated() {
            try finding.validate(at: "\(path()).findings[\(index)]")
        }
    }
}
