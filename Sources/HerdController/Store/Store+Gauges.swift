import Foundation
import HerdProtocol

/// What `/metrics` reads from the store at each scrape, besides the fleet table: every replica reads
/// the same rows, so every replica exposes the same fleet.
public struct StoreGauges: Sendable, Hashable {
    /// Open incidents by severity name (`warning`, `unknown`, `critical`), each present.
    public var openIncidents: [String: Int] = ["warning": 0, "unknown": 0, "critical": 0]
    /// Remediations by state, each of `OperatorAPI.Remediation.states` present.
    public var remediations = Dictionary(uniqueKeysWithValues: OperatorAPI.Remediation.states.map { ($0, 0) })
    /// Notifications waiting to be delivered (`pending`, including those backing off after a failure).
    public var notificationsPending = 0
    /// Each instance's current check statuses, when asked for.
    public var checks: [CheckGauge] = []

    public struct CheckGauge: Sendable, Hashable {
        public var instance: String
        public var checkID: String
        public var status: CheckStatus
    }
}

extension Store {
    /// One read of everything `StoreGauges` holds; `perInstance` adds every instance's check statuses.
    public func gauges(perInstance: Bool) async throws -> StoreGauges {
        try await read { db in
            var gauges = StoreGauges()
            for row in try SQLRow.fetchAll(
                db, sql: "SELECT severity, count(*) FROM incidents WHERE state = 'open' GROUP BY severity")
            {
                gauges.openIncidents[IncidentBook.severityName(row[0]), default: 0] += row[1]
            }
            for row in try SQLRow.fetchAll(db, sql: "SELECT state, count(*) FROM remediations GROUP BY state") {
                gauges.remediations[row[0]] = row[1]
            }
            gauges.notificationsPending =
                try Int.fetchOne(db, sql: "SELECT count(*) FROM notifications WHERE state = 'pending'") ?? 0
            if perInstance {
                gauges.checks = try SQLRow.fetchAll(
                    db,
                    sql: """
                        SELECT i.domain, s.check_id, s.status FROM check_state s JOIN instances i ON i.id = s.instance_id
                        ORDER BY i.domain, s.check_id
                        """
                ).map {
                    StoreGauges.CheckGauge(
                        instance: $0[0], checkID: $0[1], status: CheckStatus(code: $0[2]) ?? .unknown)
                }
            }
            return gauges
        }
    }
}
