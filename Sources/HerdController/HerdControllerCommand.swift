import ArgumentParser
import HerdProtocol

/// `herd-controller`: verifies and stores reports, finds patterns, relays approved remediations.
public struct HerdControllerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "herd-controller",
        abstract: "Herd's controller: verifies, stores and analyses the fleet's reports.",
        version: HerdVersion.current,
        subcommands: [InitCommand.self, ServeCommand.self, MigrateStoreCommand.self]
    )

    public init() {}
}
