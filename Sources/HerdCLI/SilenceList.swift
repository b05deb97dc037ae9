import ArgumentParser
import Foundation
import HerdProtocol

struct SilenceList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Silences not yet over.")
    @Flag(help: "Every silence, ended and expired too.") var all = false
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let answer = try await withClient(connection) {
            try await $0.call(.GET, "/v1/silences\(all ? "?all=true" : "")", as: OperatorAPI.Silences.self)
        }
        if connection.json { return try printJSON(answer) }
        if answer.silences.isEmpty { return emit("no silence") }
        SilenceCommand.show(answer.silences, now: answer.serverTime)
    }
}
