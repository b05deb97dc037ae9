import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl`: the operator's command line. One verb per file, listed in `subcommands`.
public struct Herdctl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "herdctl",
        abstract: "Operate a Herd fleet: status, history, incidents, agents, remediations, audit.",
        discussion: """
            Talks to the controller over mutual TLS with the operator identity in ~/.config/herdctl/config \
            (written by `herd-controller init` for the first operator), or the file HERDCTL_CONFIG names, or \
            --config FILE before or after the verb. Every verb takes --json. Exit status: \
            0 ok; 1 the controller refused (and, for `status`, some instance is critical); 2 bad usage or \
            configuration; 3 the controller cannot be reached or gave no complete answer within \
            HERDCTL_TIMEOUT seconds (1 to 600, default 30; head and body). Shell completion: \
            herdctl --generate-completion-script bash|zsh|fish.
            """,
        version: HerdVersion.current,
        subcommands: [
            StatusCommand.self, ShowCommand.self, HistoryCommand.self, IncidentsCommand.self, IncidentCommand.self,
            AckCommand.self,
            PatternsCommand.self, SilenceCommand.self, InstanceCommand.self, AgentsCommand.self,
            OperatorsCommand.self, RemediateCommand.self, AuditCommand.self, NotificationsCommand.self,
            DashboardCommand.self,
        ]
    )

    public init() {}

    /// `herdctl --config FILE VERB …` as `herdctl VERB … --config FILE`: ArgumentParser reads a verb's
    /// options after the verb, and every verb that talks to the controller has `--config`.
    static func leadingConfigMoved(_ arguments: [String]) -> [String] {
        if arguments.count >= 2, arguments[0] == "--config" {
            return Array(arguments[2...]) + Array(arguments[0..<2])
        }
        if let first = arguments.first, first.hasPrefix("--config=") { return Array(arguments.dropFirst()) + [first] }
        return arguments
    }

    /// ArgumentParser's exit statuses, except that bad usage is 2 and herdctl's own failures carry theirs.
    public static func mainWithExitCodes(_ arguments: [String]? = nil) async -> Int32 {
        do {
            var command = try parseAsRoot(leadingConfigMoved(arguments ?? Array(CommandLine.arguments.dropFirst())))
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
            return 0
        } catch let error as HerdctlError {
            printError("herdctl: \(error.description)")
            return error.status
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                return HerdctlExit.usage
            }
            if code == .success {
                emit(fullMessage(for: error))
                return 0
            }
            if code.rawValue != 1 || error is ExitCode {
                return code.rawValue
            }
            printError(fullMessage(for: error))
            return code.rawValue
        }
    }
}
