import ArgumentParser
import Foundation
import HerdProtocol

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
