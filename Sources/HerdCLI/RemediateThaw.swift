import ArgumentParser
import Foundation
import HerdProtocol

struct RemediateThaw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "thaw", abstract: "Lift the freeze.")
    @OptionGroup var why: ReasonOption
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await RemediateFreeze.set(false, why.reason, connection)
    }
}
