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

    /// Builds, signs and sends a proposal (and its dry-run preview), then waits for the preview's output.
    static func propose(
        instance: String, action: CommandAction, reason: String, ttl: Double, incident: Int64?, preview: Bool,
        previewWait: Double, connection: ConnectionOptions
    ) async throws {
        let (_, signer) = try connection.signer()
        let detail = try await withClient(connection) { client in
            let agents = try await client.call(.GET, "/v1/agents", as: OperatorAPI.Agents.self)
            guard let agent = agents.agents.first(where: { $0.instance == instance && $0.state == "accepted" }) else {
                throw HerdctlError(description: "no accepted agent for \(instance)", status: HerdctlExit.failed)
            }
            let now = Date()
            func sealed(_ action: CommandAction, _ reason: String) throws -> SignedEnvelope {
                let command = Command(
                    id: UUID().uuidString.lowercased(), agentID: agent.id, instance: instance, action: action,
                    reason: reason, requestedBy: signer.keyID, issuedAt: now, expiresAt: now.addingTimeInterval(ttl))
                return try signer.seal(command, as: .command)
            }
            let command = try sealed(action, reason)
            let dryRun = try (preview ? action.dryRunVariant : nil).map { try sealed($0, "preview: \(reason)") }
            let request = OperatorAPI.ProposalRequest(command: command, preview: dryRun, incidentId: incident)
            var detail = try await client.call(
                .POST, "/v1/remediations", body: Array(try OperatorAPI.encoder.encode(request)),
                as: OperatorAPI.RemediationDetail.self)
            // The preview runs at once (a dry run changes nothing): show its output before anyone approves.
            let deadline = Date().addingTimeInterval(previewWait)
            while let shown = detail.preview, !finalStates.contains(shown.state), Date() < deadline {
                try await Task.sleep(for: .seconds(1))
                detail = try await client.call(
                    .GET, "/v1/remediations/\(detail.remediation.id)", as: OperatorAPI.RemediationDetail.self)
            }
            return detail
        }
        if connection.json { return try printJSON(detail) }
        show(detail)
        let r = detail.remediation
        if r.state == "proposed" {
            Output.say(
                "\nNeeds \(r.requiredApprovals) approval(s) by other operators: herdctl remediate approve \(r.id)")
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
            Output.say("\nDry run (\(preview.id)): \(preview.state)\(preview.detail.map { " — \($0)" } ?? "")")
            for line in (preview.outputTail ?? "").split(separator: "\n") { Output.say("    \(line)") }
        }
    }
}

struct RemediatePropose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "propose",
        abstract: "Propose an action on an instance, signed with your key; shows what will run and its dry run.",
        discussion: """
            Examples:
              herdctl remediate propose social.example restart-service --param service=sidekiq --reason "queues stuck"
              herdctl remediate propose social.example media-remove --param days=7 --reason "disk at 97 %"
            """)

    @Argument(help: "The instance (its domain).") var instance: String
    @Argument(help: "restart-service, media-remove or preview-cards-remove.") var action: String
    @Option(name: .customLong("param"), help: "A parameter, key=value (repeat).") var params: [String] = []
    @Option(help: "Why (one line; shown on the host and in the audit).") var reason: String
    @Option(help: "How long approvals may take before the command expires: 1m to 1h.") var ttl = "10m"
    @Option(help: "The incident this answers.") var incident: Int64?
    @Flag(help: "Do not run the action's dry run first.") var noPreview = false
    @Option(help: "How long to wait for the dry run's output (seconds).") var previewWait = 30
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("\(instance) is not an instance name") }
        _ = try RemediateCommand.action(action, try RemediateCommand.parameters(params))
        _ = try RemediateCommand.ttl(ttl)
        guard (try? Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)) != nil else {
            throw ValidationError("--reason is one line of 1 to \(Limits.maxReasonBytes) bytes")
        }
        if let incident, incident <= 0 { throw ValidationError("an incident number is positive") }
        guard (0...600).contains(previewWait) else { throw ValidationError("--preview-wait is 0 to 600") }
    }

    func run() async throws {
        try await RemediateCommand.propose(
            instance: instance, action: try RemediateCommand.action(action, try RemediateCommand.parameters(params)),
            reason: reason, ttl: try RemediateCommand.ttl(ttl), incident: incident, preview: !noPreview,
            previewWait: Double(previewWait), connection: connection)
    }
}

struct RemediateApprove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a remediation: decode and show its exact bytes, then sign them with your key.")

    @Argument(help: "The remediation's id.") var id: String
    @Flag(help: "Sign without asking (for scripts); otherwise herdctl asks on the terminal.") var yes = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Command.isLowercaseUUID(id) else { throw ValidationError("a remediation id is a lowercase UUID") }
    }

    func run() async throws {
        let (name, signer) = try connection.signer()
        // A command this operator denied stays denied, whatever the controller says of it now.
        if try DeniedLedger(connection).contains(id) {
            throw HerdctlError(
                description: "you denied \(id) before (\(DeniedLedger(connection).path)): refusing to sign it",
                status: HerdctlExit.failed)
        }
        guard yes || isatty(STDIN_FILENO) == 1 else {
            throw HerdctlError(
                description: "standard input is not a terminal: pass --yes to sign without being asked",
                status: HerdctlExit.usage)
        }
        let approved = try await withClient(connection) { client in
            let detail = try await client.call(.GET, "/v1/remediations/\(id)", as: OperatorAPI.RemediationDetail.self)
            // What is signed is the payload itself, decoded here: never the controller's description of it.
            guard let payload = Base64.decode(detail.remediation.payload),
                let command = try? WireCoding.decode(Command.self, from: payload)
            else {
                throw HerdctlError(
                    description: "the controller sent a payload that is not a command", status: HerdctlExit.failed)
            }
            guard command.id == id else {
                throw HerdctlError(
                    description: "the payload is command \(command.id), not \(id)", status: HerdctlExit.failed)
            }
            // Shown from the decoded bytes, escaped: this is exactly what the signature will cover.
            let shown = [
                "approving as \(name): \(command.action.summary) on \(command.instance) (agent \(command.agentID))",
                "  command: \(command.id)", "  runs: \(command.action.hostCommand)", "  reason: \(command.reason)",
                "  expires: \(Output.timestamp(command.expiresAt.timeIntervalSince1970))",
            ].map(\.escapingControlCharacters)
            if !connection.json || !yes { for line in shown { print(line) } }
            if !yes {
                print("Sign this command? [y/N] ", terminator: "")
                let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased()
                guard answer == "y" || answer == "yes" else {
                    throw HerdctlError(description: "not signed", status: HerdctlExit.failed)
                }
            }
            let approval = Approval(
                commandID: id, signature: try signer.signature(payloadType: .command, payload: payload))
            return try await client.call(
                .POST, "/v1/remediations/\(id)/approve", body: WireCoding.encode(approval),
                as: OperatorAPI.Remediation.self)
        }
        if connection.json { return try printJSON(approved) }
        print("\(approved.state): \(approved.approvals.count) of \(approved.requiredApprovals) approval(s)")
    }
}

/// `--reason`: one line, as the audit log keeps it.
struct ReasonOption: ParsableArguments {
    @Option(help: "Why (one line; kept in the audit log).") var reason: String

    func validate() throws {
        guard (try? Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)) != nil else {
            throw ValidationError("--reason is one line of 1 to \(Limits.maxReasonBytes) bytes")
        }
    }
}

struct RemediateDeny: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deny", abstract: "Deny a remediation.")
    @Argument(help: "The remediation's id.") var id: String
    @OptionGroup var why: ReasonOption
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Command.isLowercaseUUID(id) else { throw ValidationError("a remediation id is a lowercase UUID") }
    }

    func run() async throws {
        try DeniedLedger(connection).add(id)
        let denied = try await withClient(connection) {
            try await $0.call(
                .POST, "/v1/remediations/\(id)/deny",
                body: Array(try OperatorAPI.encoder.encode(OperatorAPI.ReasonRequest(reason: why.reason))),
                as: OperatorAPI.Remediation.self)
        }
        if connection.json { return try printJSON(denied) }
        print("\(denied.id): \(denied.state)")
    }
}

struct RemediateList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Remediations waiting or running (--all: every one), and the freeze.")
    @Flag(help: "Finished ones too.") var all = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let answer = try await withClient(connection) {
            try await $0.call(.GET, "/v1/remediations?state=\(all ? "all" : "open")", as: OperatorAPI.Remediations.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.freeze.frozen {
            Output.say("FROZEN by \(answer.freeze.by ?? "?"): \(answer.freeze.reason ?? "") — nothing is dispatched\n")
        }
        if answer.remediations.isEmpty { return print("no remediation") }
        print(
            Output.table(
                ["ID", "INSTANCE", "ACTION", "STATE", "APPROVALS", "BY", "CREATED"],
                answer.remediations.map {
                    [
                        $0.id, $0.instance, ([$0.action] + $0.parameters).joined(separator: " "), $0.state,
                        "\($0.approvals.count)/\($0.requiredApprovals)", $0.requestedBy, Output.timestamp($0.createdAt),
                    ]
                }))
    }
}

struct RemediateShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One remediation: what runs, approvals, result, verification, dry run.")
    @Argument(help: "The remediation's id.") var id: String
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Command.isLowercaseUUID(id) else { throw ValidationError("a remediation id is a lowercase UUID") }
    }

    func run() async throws {
        let detail = try await withClient(connection) {
            try await $0.call(.GET, "/v1/remediations/\(id)", as: OperatorAPI.RemediationDetail.self)
        }
        if connection.json { return try printJSON(detail) }
        RemediateCommand.show(detail)
    }
}

struct RemediateFreeze: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "freeze", abstract: "The kill switch: dispatch nothing to any agent until thawed.")
    @OptionGroup var why: ReasonOption
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await RemediateFreeze.set(true, why.reason, connection)
    }

    static func set(_ frozen: Bool, _ reason: String, _ connection: ConnectionOptions) async throws {
        let state = try await withClient(connection) {
            try await $0.call(
                .POST, frozen ? "/v1/remediations/freeze" : "/v1/remediations/thaw",
                body: Array(try OperatorAPI.encoder.encode(OperatorAPI.ReasonRequest(reason: reason))),
                as: OperatorAPI.FreezeState.self)
        }
        if connection.json { return try printJSON(state) }
        print(state.frozen ? "remediation frozen: nothing will be dispatched" : "remediation thawed")
    }
}

struct RemediateThaw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "thaw", abstract: "Lift the freeze.")
    @OptionGroup var why: ReasonOption
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await RemediateFreeze.set(false, why.reason, connection)
    }
}

/// `herdctl incident remediate ID`: propose the action the incident's diagnosis suggests.
struct IncidentRemediate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remediate", abstract: "Propose the remediation an incident's diagnosis suggests.")
    @Argument(help: "The incident's number.") var id: Int64
    @Option(help: "Why (default: the incident's probable cause).") var reason: String?
    @Option(help: "How long approvals may take: 1m to 1h.") var ttl = "10m"
    @Option(help: "How long to wait for the dry run's output (seconds).") var previewWait = 30
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("an incident number is positive") }
        _ = try RemediateCommand.ttl(ttl)
        guard (0...600).contains(previewWait) else { throw ValidationError("--preview-wait is 0 to 600") }
    }

    func run() async throws {
        let detail = try await withClient(connection) {
            try await $0.call(.GET, "/v1/incidents/\(id)", as: OperatorAPI.IncidentDetail.self)
        }
        guard let instance = detail.incident.instance, let diagnosis = detail.incident.diagnosis,
            let name = diagnosis.action
        else {
            throw HerdctlError(
                description: "incident #\(id) has no suggested remediation (see herdctl incident show \(id))",
                status: HerdctlExit.failed)
        }
        let action: CommandAction
        do {
            action = try CommandAction(name: name, parameters: diagnosis.parameters ?? [:])
        } catch {
            throw HerdctlError(description: "suggested \(name): \(error.message)", status: HerdctlExit.failed)
        }
        let why = String((reason ?? "incident #\(id): \(diagnosis.cause)").prefix(400))
        try await RemediateCommand.propose(
            instance: instance, action: action, reason: why, ttl: try RemediateCommand.ttl(ttl), incident: id,
            preview: true, previewWait: Double(previewWait), connection: connection)
    }
}

/// The ids this operator denied, kept next to herdctl's configuration: `approve` refuses them, so a
/// controller that revives a denied command (under any description) cannot get it signed here.
struct DeniedLedger {
    let path: String

    init(_ connection: ConnectionOptions) {
        let config = connection.config ?? ConnectionOptions.defaultConfig
        path = (config as NSString).deletingLastPathComponent + "/denied"
    }

    func contains(_ id: String) throws -> Bool {
        guard SecureFile.exists(path) else { return false }
        do {
            return try SecureFile.readText(path, maxBytes: 16 << 20).split(separator: "\n").contains { $0 == id }
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
    }

    /// Recorded before the controller is asked, so that a denial is remembered even if the answer is lost.
    func add(_ id: String) throws {
        guard try !contains(id) else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw HerdctlError(
                description: "\(path): \(String(cString: strerror(errno)))", status: HerdctlExit.usage)
        }
        defer { close(fd) }
        let line = Array((id + "\n").utf8)
        guard line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count, fsync(fd) == 0 else {
            throw HerdctlError(description: "\(path): cannot record the denial", status: HerdctlExit.usage)
        }
    }
}
