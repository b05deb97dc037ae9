import Foundation
import HerdProtocol
import Hummingbird

/// Incidents and patterns for operators (Controller/README.md, "Patterns and incidents").
struct IncidentRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/incidents", use: list)
        router.get("/v1/incidents/:id", use: show)
        router.post("/v1/incidents/:id/ack", use: acknowledge)
        router.get("/v1/patterns", use: patterns)
    }

    /// `GET /v1/incidents[?state=&instance=&check=&since=&before=&limit=]`, newest first; `next_before`
    /// when the page is full.
    func list(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let state = query.get("state")
        guard state == nil || ["open", "resolved", "all"].contains(state) else {
            throw WireError(.invalidField, "state is open, resolved or all")
        }
        let instance = query.get("instance")
        if let instance, !Rule.isInstanceName(instance) {
            throw WireError(.invalidField, "instance: not an instance name")
        }
        let check = query.get("check")
        if let check { try Rule.storedCheck(check, "check") }
        var since: Double?
        if let text = query.get("since") {
            guard let date = WireTime.parse(text) else {
                throw WireError(.invalidField, "since: not an RFC 3339 timestamp")
            }
            since = date.timeIntervalSince1970
        }
        var before: Int64?
        if let text = query.get("before") {
            guard let id = Int64(text), id > 0 else { throw WireError(.invalidField, "before: an incident id") }
            before = id
        }
        let limit = Int(query.get("limit") ?? "500") ?? 0
        guard (1...1000).contains(limit) else { throw WireError(.invalidField, "limit: an integer in 1...1000") }
        let rows = try await controller.store.incidents(
            openOnly: false, state: state == "all" ? nil : state, instance: instance, check: check, since: since,
            before: before, limit: limit)
        return WireResponse.json(
            OperatorAPI.Incidents(
                serverTime: controller.clock(), incidents: rows.map(Self.row),
                nextBefore: rows.count == limit ? rows.last?.id : nil))
    }

    /// `GET /v1/incidents/:id`
    func show(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let id = try Self.incidentID(context)
        guard let detail = try await controller.store.incident(id: id) else {
            throw WireError(.notFound, "no incident \(id)")
        }
        return WireResponse.json(
            OperatorAPI.IncidentDetail(
                serverTime: controller.clock(), incident: Self.row(detail.incident),
                timeline: detail.events.map {
                    OperatorAPI.IncidentEvent(at: $0.at.instant, kind: $0.kind, actor: $0.actor, detail: $0.detail)
                },
                members: detail.members.map(Self.row),
                notifications: detail.notifications.map {
                    OperatorAPI.NotificationRow(
                        transition: $0.transition, sink: $0.sink, state: $0.state, attempts: $0.attempts,
                        sentAt: $0.sentAt?.instant, lastError: $0.lastError)
                }))
    }

    /// `POST /v1/incidents/:id/ack`
    func acknowledge(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let id = try Self.incidentID(context)
        let incident = try await controller.store.acknowledge(
            incident: id, by: record.name, now: controller.clock().timeIntervalSince1970)
        controller.logger.notice(
            "incident acknowledged", metadata: ["incident": "\(id)", "by": "\(record.name)"])
        return WireResponse.json(Self.row(incident))
    }

    /// `GET /v1/patterns`
    func patterns(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let patterns = try await controller.store.activePatterns()
        return WireResponse.json(
            OperatorAPI.Patterns(
                serverTime: controller.clock(),
                patterns: patterns.map {
                    OperatorAPI.PatternRow(
                        instance: $0.instance, checkId: $0.checkID, status: $0.status.rawValue,
                        patterns: $0.patterns, recent: $0.recent, troubleSince: $0.troubleSince?.instant,
                        summary: $0.summary)
                }))
    }

    static func incidentID(_ context: HerdRequestContext) throws -> Int64 {
        guard let id = Int64(try context.parameters.require("id")), id > 0 else {
            throw WireError(.notFound, "no such incident")
        }
        return id
    }

    static func row(_ incident: IncidentRecord) -> OperatorAPI.IncidentRow {
        OperatorAPI.IncidentRow(
            id: incident.id, kind: incident.kind, instance: incident.instance, checkId: incident.checkID,
            checks: incident.checks, subject: incident.subject,
            group: incident.groupAttribute.map { "\($0)=\(incident.groupValue ?? "")" },
            patterns: incident.patterns, categories: incident.categories, severity: incident.severityName,
            state: incident.state, openedAt: incident.openedAt.instant, updatedAt: incident.updatedAt.instant,
            acknowledgedBy: incident.acknowledgedBy, acknowledgedAt: incident.acknowledgedAt?.instant,
            resolvedAt: incident.resolvedAt?.instant, resolution: incident.resolution, parentId: incident.parentID,
            members: incident.members, openMembers: incident.openMembers, summary: incident.summary,
            diagnosis: incident.diagnosis.map {
                OperatorAPI.Diagnosis(
                    rule: $0.rule, cause: $0.cause, evidence: $0.evidence, nextStep: $0.nextStep,
                    action: $0.action?.action, parameters: $0.action?.parameters)
            })
    }
}
