import ArgumentParser
import Foundation
import HerdProtocol

struct SilenceExpire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "expire", abstract: "End a silence now.")
    @Argument(help: "The silence's number.") var id: Int64
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard id > 0 else { throw ValidationError("a silence number is positive") }
    }

    func run() async throws {
        let silence = try await withClient(connection) {
            try await $0.call(.POST, "/v1/silences/\(id)/expire", body: [], as: OperatorAPI.Silence.self)
        }
        if connection.json { return try printJSON(silence) }
        emit("silence #\(silence.id) expired")
    }
}
