import ArgumentParser
import Foundation
import HerdProtocol

struct RemediateShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "One remediation: what runs, approvals, result, verification, dry run.")
    @Argument(help: "The remediation's id.") var id: String
    @Option(
        help: ArgumentHelp(
            "Wait until it has ended (succeeded, failed, refused, …), for at most this long: 1s to 1h; exit 1 if not.",
            valueName: "duration"))
    var wait: String?
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard Command.isLowercaseUUID(id) else { throw ValidationError("a remediation id is a lowercase UUID") }
        if let wait { _ = try Self.waitSeconds(wait) }
    }

    static func waitSeconds(_ text: String) throws -> Double {
        try seconds(of: text, "--wait", in: .seconds(1)...(.seconds(3600)))
    }

    func run() async throws {
        let seconds = try wait.map(Self.waitSeconds) ?? 0
        let detail = try await withClient(connection) { client in
            try await RemediateCommand.poll(
                try await client.call(.GET, "/v1/remediations/\(id)", as: OperatorAPI.RemediationDetail.self), client,
                for: seconds
            ) { RemediateCommand.finalStates.contains($0.remediation.state) }
        }
        if connection.json { try printJSON(detail) } else { RemediateCommand.show(detail) }
        if let wait, !RemediateCommand.finalStates.contains(detail.remediation.state) {
            throw HerdctlError(
                description: "still \(detail.remediation.state) after \(wait)", status: HerdctlExit.failed)
        }
    }
}
