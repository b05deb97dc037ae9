import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

struct OperatorsAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Enrol the operator whose request file this is; writes NAME-certificate.pem to hand back.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The request file `herdctl operators request` made.") var request: String
    @Option(help: "Where to write the certificate (default: NAME-certificate.pem here).") var out: String?

    func run() async throws {
        let body: [UInt8]
        let asked: OperatorAPI.OperatorRequest
        do {
            body = try SecureFile.read(request, maxBytes: 64 << 10)
            asked = try JSONCodable.decode(OperatorAPI.OperatorRequest.self, from: Data(body))
        } catch {
            throw HerdctlError(description: "\(request): not an operator request (\(error))", status: HerdctlExit.usage)
        }
        let added = try await withClient(connection) {
            try await $0.call(.POST, "/v1/operators", body: body, as: OperatorAPI.OperatorRow.self)
        }
        if connection.json { return try printJSON(added) }
        let file = out ?? "\(asked.name)-certificate.pem"
        do {
            try SecureFile.write(added.certificatePem ?? "", to: file, mode: 0o644, replace: false)
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
        emit("added operator \(added.name) (signing key \(added.signingKeyId.prefix(16))); give them \(file):")
        emit("  herdctl operators install --certificate \(file)")
    }
}
