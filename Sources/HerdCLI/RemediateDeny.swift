import ArgumentParser
import Foundation
import HerdProtocol

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
                body: try JSONCodable.encode(OperatorAPI.ReasonRequest(reason: why.reason)),
                as: OperatorAPI.Remediation.self)
        }
        if connection.json { return try printJSON(denied) }
        emit("\(denied.id): \(denied.state)")
    }
}
