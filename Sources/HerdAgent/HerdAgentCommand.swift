import ArgumentParser
import HerdProtocol
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

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

extension HerdAgentCommand {
    /// Parses the command line and runs the verb, with the process set up for an agent: one NIO event
    /// loop whatever the host's core count (the agent's network work is a few connections a minute, and
    /// NIO's default of a loop thread per core meant 35 threads on a 32-core host). The environment's
    /// `NIO_SINGLETON_GROUP_LOOP_COUNT` still decides when set.
    public static func runAsAgent() async {
        if getenv("NIO_SINGLETON_GROUP_LOOP_COUNT") == nil { NIOSingletons.groupLoopCountSuggestion = 1 }
        await main()
    }
}
