import ArgumentParser
import HerdProtocol

/// `herdctl`: the operator's command line. One verb per file, listed in `subcommands`.
public struct Herdctl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "herdctl",
        abstract: "Operate a Herd fleet: status, incidents, agents, remediations, audit.",
        version: HerdVersion.current
    )

    public init() {}
}
