import ArgumentParser
import HerdProtocol

/// `herd-agent`: the daemon that runs on every Mastodon host. Its verbs are added one file each.
public struct HerdAgentCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "herd-agent",
        abstract: "Herd's host agent: runs Mastodon health checks and reports them to the controller.",
        discussion: """
            Reports are signed with the agent's Ed25519 key (Protocol/README.md). The agent opens no port.
            """,
        version: HerdVersion.current,
        subcommands: [
            CheckCommand.self, ChecksCommand.self, ScanLogCommand.self, EnrollCommand.self, RunCommand.self,
            TootctlCommand.self,
        ]
    )

    public init() {}
}
