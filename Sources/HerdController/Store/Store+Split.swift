import HerdProtocol

/// An instance split over several hosts (`AgentRole`): one agent per host, each host's checks stored as
/// `CHECK@HOST` in the one instance's state and history, and diagnosed with every host's evidence.
extension Store {
    /// How far back another host's latest report still counts as evidence, in that report's own intervals.
    static let otherHostIntervals = 3.0

    /// `report` with the latest result of every check the instance's other hosts reported within
    /// `otherHostIntervals` of their interval: what the causal model reads when this host's trouble
    /// may have its cause on another host. Read from history, only when a pattern changed.
    static func withOtherHosts(_ report: Report, instanceID: Int64, in db: any SQLDatabase) throws -> Report {
        let now = report.collectedAt.timeIntervalSince1970
        let longest =
            try Double.fetchOne(
                db,
                sql: """
                    SELECT max(a.interval_seconds) FROM agents a JOIN instances i ON i.domain = a.instance
                    WHERE i.id = ? AND a.state = 'accepted'
                    """, arguments: [instanceID]) ?? Double(report.intervalSeconds)
        let from = historyKey(now - otherHostIntervals * max(longest, Double(report.intervalSeconds)))
        var merged = report
        var seen = Set(report.results.map(\.checkID))
        for entry in try frames(instanceID: instanceID, from: from, to: historyKey(now) + 1, in: db).reversed() {
            for result in entry.frame.results where seen.insert(result.checkID).inserted {
                merged.results.append(result)
            }
        }
        return merged
    }
}
