import ArgumentParser
import Foundation
import HerdProtocol

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
                body: try JSONCodable.encode(OperatorAPI.ReasonRequest(reason: reason)),
                as: OperatorAPI.FreezeState.self)
        }
        if connection.json { return try printJSON(state) }
        emit(state.frozen ? "remediation frozen: nothing will be dispatched" : "remediation thawed")
    }
}
