import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl agents …`: enrolled and pending agents, accepting, revoking, enrollment tokens.
struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "Agents: list, pending, accept, revoke, token.",
        subcommands: [AgentsList.self, AgentsPending.self, AgentsAccept.self, AgentsRevoke.self, AgentsToken.self])

    static func print(_ agents: [OperatorAPI.AgentRow], now: Double) {
        let rows = agents.map { agent in
            [
                agent.id, agent.instance, agent.state, agent.hostname, String(agent.signingKeyId.prefix(16)),
                agent.lastReportAt.map { Output.age(now - $0) } ?? "never", agent.agentVersion,
            ]
        }
        Swift.print(Output.table(["ID", "INSTANCE", "STATE", "HOST", "SIGNING KEY", "LAST REPORT", "VERSION"], rows))
    }
}

struct AgentsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every agent.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let agents = try await withClient(connection) {
            try await $0.call(.GET, "/v1/agents", as: OperatorAPI.Agents.self)
        }
        if connection.json { return try printJSON(agents) }
        AgentsCommand.print(agents.agents, now: Date().timeIntervalSince1970)
    }
}

struct AgentsPending: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pending",
        abstract: "Enrollments waiting for `herdctl agents accept`, with their key fingerprints.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let agents = try await withClient(connection) {
            try await $0.call(.GET, "/v1/agents?state=pending", as: OperatorAPI.Agents.self)
        }
        if connection.json { return try printJSON(agents) }
        for agent in agents.agents {
            Output.say("\(agent.id)  \(agent.instance)  host \(agent.hostname)  agent \(agent.agentVersion)")
            Output.say("  signing key \(agent.signingKeyId)")
        }
        if agents.agents.isEmpty { print("no pending enrollment") }
    }
}

struct AgentsAccept: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "accept", abstract: "Accept a pending agent (compare its signing key with the host's first).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The agent's id.") var id: String

    func validate() throws { guard Rule.isIdentifier(id) else { throw ValidationError("not an agent id") } }

    func run() async throws {
        let agent = try await withClient(connection) {
            try await $0.call(.POST, "/v1/agents/\(id)/accept", as: OperatorAPI.AgentRow.self)
        }
        if connection.json { return try printJSON(agent) }
        Output.say(
            "accepted \(agent.id) for \(agent.instance); the agent fetches its certificate with herd-agent enroll")
    }
}

struct AgentsRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke an agent: every later request with its certificate is refused.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The agent's id.") var id: String

    func validate() throws { guard Rule.isIdentifier(id) else { throw ValidationError("not an agent id") } }

    func run() async throws {
        let agent = try await withClient(connection) {
            try await $0.call(.POST, "/v1/agents/\(id)/revoke", as: OperatorAPI.AgentRow.self)
        }
        if connection.json { return try printJSON(agent) }
        Output.say("revoked \(agent.id) (\(agent.instance))")
    }
}

struct AgentsToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "A one-time, expiring enrollment token for an instance.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The instance's domain.") var instance: String
    @Option(help: "How long the token is valid: 30m, 1h, 2d (1 minute to 7 days).") var ttl = "1h"
    @Flag(inversion: .prefixedNo, help: "Accept the agent at once (default: the controller's enrollment.auto_accept).")
    var autoAccept: Bool?

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("--instance must be a lowercase DNS name") }
        _ = try Self.ttlSeconds(ttl)
    }

    static func ttlSeconds(_ text: String) throws -> Int {
        Int(try seconds(of: text, "--ttl", in: .seconds(60)...(.seconds(604_800))))
    }

    func run() async throws {
        let request = OperatorAPI.TokenRequest(
            instance: instance, ttlSeconds: try Self.ttlSeconds(ttl), autoAccept: autoAccept)
        let body = Array(try OperatorAPI.encoder.encode(request))
        let (token, controller) = try await withClient(connection) {
            (try await $0.call(.POST, "/v1/tokens", body: body, as: OperatorAPI.Token.self), $0.base)
        }
        if connection.json { return try printJSON(token) }
        print("token for \(token.instance), valid \(ttl)\(token.autoAccept ? "" : ", needs herdctl agents accept"):")
        print(token.token)
        print("on the host:")
        print(
            "  herd-agent enroll --controller \(controller) --token \(token.token) --ca-fingerprint \(token.caFingerprint)"
        )
    }
}
