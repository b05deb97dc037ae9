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

    public init(json r: inout JSONReader) throws(WireError) {
        var checkID: String?, status: CheckStatus?, summary: String?, duration: Double?
        var metrics: [String: Double]?, findings: [Finding]?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "check_id": checkID = try r.readString()
            case "status": status = try r.readEnum(CheckStatus.self)
            case "summary": summary = try r.readString()
            case "duration_ms": duration = try r.readDouble()
            case "metrics":
                metrics = try r.readDictionary(maxCount: Limits.maxMetricsPerResult) { r throws(WireError) in
                    try r.readDouble()
                }
            case "findings": findings = try r.readArray(of: Finding.self, maxCount: Limits.maxFindingsPerResult)
            default: try r.skipValue()
            }
        }
        self.init(
            checkID: try r.required(checkID, "check_id"), status: try r.required(status, "status"),
            summary: try r.required(summary, "summary"), durationMilliseconds: try r.required(duration, "duration_ms"),
            metrics: try r.required(metrics, "metrics"), findings: try r.required(findings, "findings"))
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            w.field("check_id", checkID)
            w.field("duration_ms", durationMilliseconds)
            w.field("findings", findings)
            w.field("metrics", metrics) { w, value in w.number(value) }
            w.field("status", status.rawValue)
            w.field("summary", summary)
        }
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
