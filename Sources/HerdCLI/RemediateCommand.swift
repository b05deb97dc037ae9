import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl remediate propose|approve|deny|list|show|freeze|thaw`. Proposals and approvals are signed
/// here, with this operator's key; the controller only relays them (Controller/README.md §Remediation).
struct RemediateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remediate",
        abstract: "Remediations: propose, approve (sign), deny, list, show; freeze or thaw all dispatch.",
        discussion: """
            The catalogue: restart-service (service=web|sidekiq|streaming|nginx), media-remove (days=1…365, \
            dry_run, prune_profiles, remove_headers), preview-cards-remove (days=14…365, dry_run). A second \
            operator approves; the host runs a command only if its own allowlist allows it and enough keys in \
            its own trust file signed it.
            """,
        subcommands: [
            RemediatePropose.self, RemediateApprove.self, RemediateDeny.self, RemediateList.self, RemediateShow.self,
            RemediateFreeze.self, RemediateThaw.self,
        ])

    static let finalStates: Set<String> = ["succeeded", "failed", "timed_out", "refused", "lost", "denied", "expired"]

    /// `10m`, `600s`, `1h` within 1 minute to 1 hour.
    static func ttl(_ text: String) throws -> Double {
        try seconds(of: text, "--ttl", in: .seconds(60)...(.seconds(3600)))
    }

    /// `detail`, asked for again every second until `done` holds of it or `seconds` have passed.
    static func poll(
        _ detail: OperatorAPI.RemediationDetail, _ client: OperatorClient, for seconds: Double,
        until done: (OperatorAPI.RemediationDetail) -> Bool
    ) async throws -> OperatorAPI.RemediationDetail {
        let deadline = Date().addingTimeInterval(seconds)
        var detail = detail
        while !done(detail), Date() < deadline {
            try await Task.sleep(for: .seconds(1))
            detail = try await client.call(
                .GET, "/v1/remediations/\(detail.remediation.id)", as: OperatorAPI.RemediationDetail.self)
        }
        return detail
    }

    /// `--preview-wait`: 0s to 10m.
    static func previewSeconds(_ text: String) throws -> Double {
        try seconds(of: text, "--preview-wait", in: .zero...(.seconds(600)))
    }

    static func parameters(_ pairs: [String]) throws -> [String: String] {
        var parameters: [String: String] = [:]
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, Rule.isIdentifier(parts[0]) else {
                throw ValidationError("--param \(pair): expected key=value")
            }
            guard parameters.updateValue(parts[1], forKey: parts[0]) == nil else {
                throw ValidationError("--param \(parts[0]) given twice")
            }
        }
        return parameters
    }

    static func action(_ name: String, _ parameters: [String: String]) throws -> CommandAction {
        do {
            return try CommandAction(name: name, parameters: parameters)
        } catch {
            throw ValidationError("\(error.message)")
        }
    }

    /// The agent that is to run `action` on `instance`: its one agent, or — for an instance split over
    /// several hosts — the one on `host` (a host label, as in `disk@db-1`), else the one whose role runs
    /// it, those on `preferring` (the hosts an incident's checks came from, in order) first. Several that could,
    /// with no host named, is an error that lists them.
    static func agent(
        for action: CommandAction, on instance: String, host: String?, preferring: [String] = [],
        among agents: [OperatorAPI.AgentRow]
    ) throws -> OperatorAPI.AgentRow {
        let accepted = agents.filter { $0.instance == instance && $0.state == "accepted" }
        guard !accepted.isEmpty else {
            throw HerdctlError(description: "no accepted agent for \(instance)", status: HerdctlExit.failed)
        }
        if let host {
            guard let agent = accepted.first(where: { AgentRole.hostLabel($0.hostname) == host }) else {
                throw HerdctlError(
                    description: "no accepted agent for \(instance) on host \(host)",
                    status: HerdctlExit.failed)
            }
            return agent
        }
        let able = accepted.filter { AgentRole(rawValue: $0.role)?.canRun(action) ?? false }
        for label in preferring {
            if let preferred = able.first(where: { AgentRole.hostLabel($0.hostname) == label }) { return preferred }
        }
        guard able.count == 1 else {
            let hosts = accepted.map { "\(AgentRole.hostLabel($0.hostname)) (\($0.role))" }.joined(separator: ", ")
            throw HerdctlError(
                description: able.isEmpty
                    ? "no agent of \(instance) runs \(action.type): its hosts are \(hosts)"
                    : "several hosts of \(instance) could run \(action.type): name one with --host (\(hosts))",
                status: HerdctlExit.failed)
        }
        return able[0]
    }

    /// Builds, signs and sends a proposal (and its dry-run preview), then waits for the preview's output.
    static func propose(
        instance: String, action: CommandAction, reason: String, ttl: Double, incident: Int64?, preview: Bool,
        previewWait: Double, host: String? = nil, preferring: [String] = [], quiet: Bool = false,
        connection: ConnectionOptions
    ) async throws {
        let (_, signer) = try connection.signer()
        let detail = try await withClient(connection) { client in
            let agents = try await client.call(.GET, "/v1/agents", as: OperatorAPI.Agents.self)
            let agent = try Self.agent(
                for: action, on: instance, host: host, preferring: preferring, among: agents.agents)
            let now = HerdctlHarness.date
            func sealed(_ action: CommandAction, _ reason: String) throws -> SignedEnvelope {
                let command = Command(
                    id: UUID().uuidString.lowercased(), agentID: agent.id, instance: instance, action: action,
                    reason: reason, requestedBy: signer.keyID, issuedAt: now, expiresAt: now.addingTimeInterval(ttl))
                return try signer.seal(command, as: .command)
            }
            let command = try sealed(action, reason)
            let dryRun = try (preview ? action.dryRunVariant : nil).map { try sealed($0, "preview: \(reason)") }
            let request = OperatorAPI.ProposalRequest(command: command, preview: dryRun, incidentId: incident)
            let detail = try await client.call(
                .POST, "/v1/remediations", body: try JSONCodable.encode(request),
                as: OperatorAPI.RemediationDetail.self)
            // The preview runs at once (a dry run changes nothing): show its output before anyone approves.
            return try await poll(detail, client, for: previewWait) {
                $0.preview.map { finalStates.contains($0.state) } ?? true
            }
        }
        if connection.json { return try printJSON(detail) }
        if quiet { return emit(detail.remediation.id) }
        show(detail)
        let r = detail.remediation
        if r.state == "proposed" {
            emit()
            Output.say("Needs \(r.requiredApprovals) approval(s) by other operators: herdctl remediate approve \(r.id)")
        }
    }

    static func show(_ detail: OperatorAPI.RemediationDetail) {
        let r = detail.remediation
        Output.say("remediation \(r.id): \(r.state)")
        Output.say("  \(r.action) \(r.parameters.joined(separator: " ")) on \(r.instance) (agent \(r.agentId))")
        Output.say("  runs: \(r.hostCommand)")
        Output.say(
            "  risk: \(r.risk); approvals \(r.approvals.count) of \(r.requiredApprovals)"
                + (r.approvals.isEmpty ? "" : " (\(r.approvals.map(\.operator).joined(separator: ", ")))"))
        Output.say("  requested by \(r.requestedBy): \(r.reason)")
        Output.say("  expires \(Output.timestamp(r.expiresAt))" + (r.incidentId.map { "; for incident #\($0)" } ?? ""))
        if let detail = r.detail { Output.say("  result: \(detail)") }
        if let exit = r.exitCode { Output.say("  exit status \(exit)") }
        for check in r.verification { Output.say("  verified: \(check.checkId) \(check.status): \(check.summary)") }
        if let tail = r.outputTail, !tail.isEmpty {
            Output.say("  output:")
            for line in tail.split(separator: "\n") { Output.say("    \(line)") }
        }
        if let preview = detail.preview {
            emit()
            Output.say("Dry run (\(preview.id)): \(preview.state)\(preview.detail.map { " — \($0)" } ?? "")")
            for line in (preview.outputTail ?? "").split(separator: "\n") { Output.say("    \(line)") }
        }
    }
}
