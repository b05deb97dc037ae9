import Foundation
import HerdProtocol
import Hummingbird

/// The fleet table, one instance, and the attributes operators set on it.
struct InstanceRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/fleet", use: fleet)
        router.get("/v1/instances/:instance", use: show)
        router.get("/v1/instances/:instance/history", use: history)
        router.post("/v1/instances/:instance/attributes", use: setAttributes)
    }

    /// `GET /v1/fleet[?attribute=NAME=VALUE][&state=S,S…]`
    func fleet(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let now = controller.clock().timeIntervalSince1970
        let query = request.uri.queryParameters
        var attribute: (String, String)?
        if let text = query.get("attribute") {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[1].isEmpty, parts[1].utf8.count <= 253, FleetRule.isAttributeName(parts[0])
            else {
                throw WireError(
                    .invalidField,
                    "attribute: NAME=VALUE, NAME one of \(FleetRule.attributes.joined(separator: ", ")), tag.KEY, attribute.KEY"
                )
            }
            attribute = (parts[0], parts[1])
        }
        var states: Set<String>?
        if let text = query.get("state") {
            let listed = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard listed.allSatisfy(OperatorAPI.InstanceRow.states.contains) else {
                throw WireError(
                    .invalidField,
                    "state: a comma-separated list of \(OperatorAPI.InstanceRow.states.sorted().joined(separator: ", "))"
                )
            }
            states = Set(listed)
        }
        let rows = try await controller.store.fleetStatus(
            now: now, silenceIntervals: controller.configuration.silenceIntervals, attribute: attribute)
        return WireResponse.message(OperatorAPI.Fleet(rows, serverTime: now, states: states))
    }

    /// `GET /v1/instances/:instance`
    func show(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let instance = try context.parameters.require("instance")
        guard Rule.isInstanceName(instance) else { throw WireError(.invalidField, "not an instance name") }
        let now = controller.clock().timeIntervalSince1970
        let states = try await controller.store.checkStates(instance: instance)
        guard !states.isEmpty else { throw WireError(.notFound, "no reports from \(instance)") }
        let hours = try await controller.store.hourlyWorst(instance: instance, now: now, hours: 24)
        let lost = try await controller.store.lostReports(instance: instance)
        return WireResponse.json(
            OperatorAPI.InstanceDetail(
                instance: instance, serverTime: now.instant,
                checks: states.map {
                    OperatorAPI.CheckRow(
                        checkId: $0.checkID, status: $0.status.rawValue, since: $0.since.instant, summary: $0.summary,
                        lastAt: $0.lastAt.instant, recent: $0.recent,
                        hours: hours[$0.checkID] ?? String(repeating: "-", count: 24))
                }, reportsLost: lost?.count ?? 0, reportsLostAt: lost?.lastAt?.instant))
    }

    /// `GET /v1/instances/:instance/history[?since=&until=&check=&raw_hours=&limit=]`: hourly rollups
    /// before `raw_since`, raw results from it on (Controller/README.md, "Operator API").
    func history(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let instance = try context.parameters.require("instance")
        guard Rule.isInstanceName(instance) else { throw WireError(.invalidField, "not an instance name") }
        let query = request.uri.queryParameters
        let now = controller.clock().timeIntervalSince1970
        func instant(_ name: String, default value: Double) throws(WireError) -> Double {
            guard let text = query.get(name) else { return value }
            guard let date = WireTime.parse(text) else {
                throw WireError(.invalidField, "\(name): not an RFC 3339 timestamp")
            }
            return date.timeIntervalSince1970
        }
        func integer(_ name: String, default value: Int, in range: ClosedRange<Int>) throws(WireError) -> Int {
            guard let text = query.get(name) else { return value }
            guard let number = Int(text), range.contains(number) else {
                throw WireError(.invalidField, "\(name): an integer in \(range.lowerBound)...\(range.upperBound)")
            }
            return number
        }
        let until = try instant("until", default: now)
        let since = try instant("since", default: until - 86_400)
        guard since < until, until - since <= 3_660 * 86_400 else {
            throw WireError(.invalidField, "since: before until, and at most 3660 days before it")
        }
        let checkID = query.get("check")
        if let checkID { try Rule.storedCheck(checkID, "check") }
        let rawHours = try integer("raw_hours", default: 24, in: 1...OperatorAPI.History.maxRawHours)
        let limit = try integer("limit", default: 5_000, in: 1...OperatorAPI.History.maxResults)
        guard !(try await controller.store.checkStates(instance: instance)).isEmpty else {
            throw WireError(.notFound, "no reports from \(instance)")
        }
        // Raw from the start of the hour `raw_hours` before `until` (rollups are whole hours).
        let rawSince = max(since, ((until - Double(rawHours) * 3600) / 3600).rounded(.down) * 3600)
        let hours = try await controller.store.rollups(
            instance: instance, checkID: checkID, since: (since / 3600).rounded(.down) * 3600, until: rawSince)
        var results: [OperatorAPI.HistoryResult] = []
        var next: Date?
        for entry in try await controller.store.history(instance: instance, since: rawSince, until: until) {
            let kept = entry.results.filter { checkID == nil || $0.checkID == checkID }
            guard !kept.isEmpty else { continue }
            if !results.isEmpty, results.count + kept.count > limit {
                next = entry.collectedAt.instant
                break
            }
            results += kept.map {
                OperatorAPI.HistoryResult(
                    collectedAt: entry.collectedAt.instant, checkId: $0.checkID, status: $0.status.rawValue,
                    summary: $0.summary, metrics: $0.metrics,
                    findings: $0.findings.map {
                        OperatorAPI.FindingRow(
                            category: $0.category.rawValue, signature: $0.signature, count: $0.count, sample: $0.sample)
                    })
            }
        }
        return WireResponse.json(
            OperatorAPI.History(
                instance: instance, serverTime: now.instant, since: since.instant, until: until.instant,
                rawSince: rawSince.instant,
                hours: try hours.map { checkID, rollup in
                    OperatorAPI.HistoryHour(
                        hour: rollup.hour.instant, checkId: checkID, worst: rollup.worst.rawValue, ok: rollup.counts[0],
                        warning: rollup.counts[1], critical: rollup.counts[2], unknown: rollup.counts[3],
                        metrics: try rollup.metricSummaries())
                }, results: results, next: next))
    }

    /// `POST /v1/instances/:instance/attributes`
    func setAttributes(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let instance = try context.parameters.require("instance")
        guard Rule.isInstanceName(instance) else { throw WireError(.invalidField, "not an instance name") }
        let asked = try await request.operatorBody(OperatorAPI.AttributesRequest.self, expected: "{set, remove}")
        let attributes = try await controller.store.setOperatorAttributes(
            instance: instance, set: asked.set, remove: asked.remove, by: record.name,
            now: controller.clock().timeIntervalSince1970)
        return WireResponse.json(OperatorAPI.Attributes(instance: instance, attributes: attributes))
    }
}

extension OperatorAPI.Fleet {
    /// The fleet answer: counts by state of every row, and the rows in `states` (all when nil).
    public init(_ rows: [InstanceStatus], serverTime: Double, states: Set<String>?) {
        self.init(
            serverTime: serverTime.instant,
            counts: Dictionary(grouping: rows, by: \.overall.rawValue).mapValues(\.count),
            instances: rows.filter { states?.contains($0.overall.rawValue) ?? true }.map {
                OperatorAPI.InstanceRow(
                    instance: $0.instance, state: $0.overall.rawValue, failing: $0.failing, warning: $0.warning,
                    lastReportAt: $0.lastReportAt?.instant, agentId: $0.agentID, agentVersion: $0.agentVersion)
            })
    }
}
