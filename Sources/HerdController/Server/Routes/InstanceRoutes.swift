import Foundation
import HerdProtocol
import Hummingbird

/// The fleet table, one instance, and the attributes operators set on it.
struct InstanceRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/fleet", use: fleet)
        router.get("/v1/instances/:instance", use: show)
        router.post("/v1/instances/:instance/attributes", use: setAttributes)
    }

    /// `GET /v1/fleet`
    func fleet(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let now = controller.clock().timeIntervalSince1970
        let rows = try await controller.store.fleetStatus(
            now: now, silenceIntervals: controller.configuration.silenceIntervals)
        return WireResponse.message(
            OperatorAPI.Fleet(
                serverTime: now.instant,
                instances: rows.map {
                    OperatorAPI.InstanceRow(
                        instance: $0.instance, state: $0.overall.rawValue, failing: $0.failing,
                        warning: $0.warning,
                        lastReportAt: $0.lastReportAt?.instant, agentId: $0.agentID, agentVersion: $0.agentVersion)
                }))
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
