import ArgumentParser
import Foundation
import HerdProtocol

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
            let (command, payload) = try Self.command(detail.remediation, id: id)
            // Shown from the decoded bytes, escaped: this is exactly what the signature will cover.
            let shown = [
                "approving as \(name): \(command.action.summary) on \(command.instance) (agent \(command.agentID))",
                "  command: \(command.id)", "  runs: \(command.action.hostCommand)", "  reason: \(command.reason)",
                "  expires: \(Output.timestamp(command.expiresAt))",
            ].map(\.escapingControlCharacters)
            if !connection.json || !yes { for line in shown { emit(line) } }
            if !yes {
                emit("Sign this command? [y/N] ", terminator: "")
                let answer = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespaces).lowercased()
                guard answer == "y" || answer == "yes" else {
                    throw HerdctlError(description: "not signed", status: HerdctlExit.failed)
                }
            }
            return try await Self.approve(id, payload: payload, signer: signer, client: client)
        }
        if connection.json { return try printJSON(approved) }
        emit("\(approved.state): \(approved.approvals.count) of \(approved.requiredApprovals) approval(s)")
    }

    /// The command a remediation's payload holds, decoded here — what is signed is the payload itself,
    /// never the controller's description of it — and the payload's bytes.
    static func command(_ remediation: OperatorAPI.Remediation, id: String) throws -> (Command, [UInt8]) {
        guard let payload = Base64.decode(remediation.payload),
            let command = try? WireCoding.decode(Command.self, from: payload)
        else {
            throw HerdctlError(
                description: "the controller sent a payload that is not a command", status: HerdctlExit.failed)
        }
        guard command.id == id else {
            throw HerdctlError(
                description: "the payload is command \(command.id), not \(id)", status: HerdctlExit.failed)
        }
        return (command, payload)
    }

    /// Signs `payload` with this operator's key, here, and sends the signature.
    static func approve(_ id: String, payload: [UInt8], signer: MessageSigner, client: OperatorClient) async throws
        -> OperatorAPI.Remediation
    {
        let approval = Approval(commandID: id, signature: try signer.signature(payloadType: .command, payload: payload))
        return try await client.call(
            .POST, "/v1/remediations/\(id)/approve", body: WireCoding.encode(approval), as: OperatorAPI.Remediation.self
        )
    }
}
