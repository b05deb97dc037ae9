import Foundation
import HerdProtocol
import Hummingbird
import ServiceLifecycle

/// The agent's side of remediation: `GET /v1/commands?wait=S` (the long-poll that hands over approved
/// commands, each once) and `POST /v1/command-results` (the agent's signed result, opened like a report
/// and sharing its sequence).
struct CommandRoutes {
    let controller: Controller

    func register(_ router: Router<HerdRequestContext>) {
        router.get("/v1/commands", use: poll)
        router.post("/v1/command-results", use: result)
    }

    /// `GET /v1/commands`
    func poll(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let agent = try await controller.requireAgent(context)
        let asked = request.uri.queryParameters.get("wait") ?? "0"
        guard let wait = Int(asked), (0...60).contains(wait) else {
            throw WireError(.invalidField, "wait is 0 to 60 seconds")
        }
        let deadline = ContinuousClock.now + .seconds(wait)
        while true {
            // The ticket comes first: an approval between the look and the wait still wakes us.
            let ticket = controller.relay.ticket(agentID: agent.id)
            defer { controller.relay.release(ticket, agentID: agent.id) }
            let commands = try await controller.store.dispatch(
                agentID: agent.id, now: controller.clock().timeIntervalSince1970)
            let left = deadline - ContinuousClock.now
            if !commands.isEmpty || left <= .zero || Task.isCancelled || Task.isShuttingDownGracefully {
                if !commands.isEmpty {
                    controller.logger.notice(
                        "commands dispatched", metadata: ["agent": "\(agent.id)", "count": "\(commands.count)"])
                }
                return WireResponse.message(CommandBatch(commands: commands))
            }
            // A stopping controller answers its polls at once (empty) instead of holding its
            // graceful shutdown for up to a minute.
            await withGracefulShutdownHandler {
                await ticket.wait(for: left)
            } onGracefulShutdown: {
                ticket.finish()
            }
        }
    }

    /// `POST /v1/command-results`
    func result(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let (agent, verified, now) = try await controller.openAgentMessage(
            CommandResult.self, request, context)
        let result = verified.message
        var stored = false
        if verified.decision == .new {
            stored = try await controller.store.record(
                verified, receivedAt: now.timeIntervalSince1970, engine: controller.configuration.patternEngine)
            if !stored {
                try await controller.settleNotStored(
                    agentID: agent.id, sequence: result.sequence, sentAt: result.sentAt, now: now)
            }
            controller.logger.notice(
                "command result",
                metadata: [
                    "agent": "\(agent.id)", "command": "\(result.commandID)",
                    "outcome": "\(result.outcome.rawValue)", "refusal": "\(result.refusal?.rawValue ?? "-")",
                ])
        }
        let commands = try await controller.store.dispatch(
            agentID: agent.id, now: now.timeIntervalSince1970)
        return WireResponse.message(
            IngestResponse(acknowledgedSequence: result.sequence, duplicate: !stored, commands: commands))
    }
}
