import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl incident show|ack ID`.
struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident",
        abstract: "One incident: show its timeline and diagnosis, acknowledge it, or propose its remediation.",
        subcommands: [IncidentShow.self, AckCommand.self, IncidentRemediate.self])
}
