import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

struct OperatorsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every operator.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let operators = try await withClient(connection) {
            try await $0.call(.GET, "/v1/operators", as: OperatorAPI.Operators.self)
        }
        if connection.json { return try printJSON(operators) }
        emit(
            Output.table(
                ["NAME", "SIGNING KEY", "CERTIFICATE", "STATE"],
                operators.operators.map {
                    [
                        $0.name, String($0.signingKeyId.prefix(16)), String($0.certificateFingerprint.prefix(16)),
                        $0.revoked ? "revoked" : "active",
                    ]
                }))
    }
}
