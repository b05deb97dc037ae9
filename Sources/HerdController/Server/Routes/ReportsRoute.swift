import Foundation
import HerdProtocol
import Hummingbird

/// `POST /v1/reports`: a signed report from the agent that owns the client certificate, opened in the
/// order of Protocol/README.md §3; stored through the group-commit writer and acknowledged only once
/// durable. A retry of the last accepted sequence is acknowledged again (`duplicate`) and stores nothing.
/// Approved commands waiting for the agent ride back in the acknowledgement.
struct ReportsRoute {
    let controller: Controller

    func register(_ router: Router<HerdRequestContext>) {
        router.post("/v1/reports", use: ingest)
    }

    /// `POST /v1/reports`
    func ingest(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        let (agent, verified, now) = try await controller.openAgentMessage(Report.self, request, context)
        let report = verified.message
        var stored = false
        if verified.decision == .new {
            stored = try await controller.writer.submit(
                AcceptedReport(
                    agentID: agent.id, report: report, receivedAt: now.timeIntervalSince1970,
                    hostLabel: agent.hostLabel))
            if !stored {
                try await controller.settleNotStored(
                    agentID: agent.id, sequence: report.sequence, sentAt: report.sentAt, now: now)
            }
        }
        // Approved commands ride back on the acknowledgement too (the long-poll usually has them first).
        let commands = try await controller.store.dispatch(agentID: agent.id, now: now.timeIntervalSince1970)
        controller.metrics.ingested(stored: stored, in: ContinuousClock.now - started)
        return WireResponse.message(
            IngestResponse(acknowledgedSequence: report.sequence, duplicate: !stored, commands: commands))
    }
}
