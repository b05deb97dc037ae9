import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl instance attributes DOMAIN [NAME=VALUE…] [--remove NAME…]`: operators' grouping attributes.
struct InstanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instance",
        abstract: "An instance's operator attributes (grouping for fleet incidents and silences).",
        subcommands: [InstanceAttributes.self])
}
