import ArgumentParser
import FoundationEssentials
import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// `herd-agent tootctl SPEC`: what the `herd-tootctl@SPEC.service` template unit (deploy/) runs, as the
/// mastodon user in the live directory. It reads the unit's instance name back into a catalogue action
/// — strictly, bounds included — and replaces itself with `bin/tootctl` and that action's arguments, with
/// `RAILS_ENV=production`. No shell, and nothing but the catalogue's own arguments: the polkit rule
/// lets the agent start this template with any instance name, so the name is checked again here.
struct TootctlCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tootctl",
        abstract: "Run one catalogue tootctl action (for the herd-tootctl@.service unit, not by hand).",
        discussion: """
            SPEC is the unit's instance name: media-remove-DAYS[-prune-profiles][-remove-headers][-dry-run] \
            or preview-cards-remove-DAYS[-dry-run]. Runs LIVE_DIR/bin/tootctl with the action's arguments and \
            RAILS_ENV=production; its exit status is tootctl's. Exit status 2 for a SPEC outside the catalogue.
            """)

    @Argument(help: "The action, as the unit's instance name.")
    var spec: String

    @Option(help: ArgumentHelp("Mastodon's live directory (the unit's working directory).", valueName: "dir"))
    var liveDir = "."

    func validate() throws {
        guard CommandAction(tootctlUnitInstance: spec) != nil else {
            throw ValidationError("'\(spec)' is not a tootctl action of the catalogue")
        }
    }

    func run() throws {
        let action = CommandAction(tootctlUnitInstance: spec)!
        let tootctl = liveDir + "/bin/tootctl"
        guard access(tootctl, X_OK) == 0 else {
            throw AgentCommandError("\(tootctl) is not executable: \(String(cString: strerror(errno)))")
        }
        guard chdir(liveDir) == 0 else {
            throw AgentCommandError("cannot enter \(liveDir): \(String(cString: strerror(errno)))")
        }
        var environment = ProcessInfo.processInfo.environment
        environment["RAILS_ENV"] = "production"
        let argv = [tootctl] + action.tootctlArguments
        let envp = environment.map { "\($0.key)=\($0.value)" }
        var cArgv = argv.map { strdup($0) } + [nil]
        var cEnv = envp.map { strdup($0) } + [nil]
        execve(tootctl, &cArgv, &cEnv)
        throw AgentCommandError("cannot run \(tootctl): \(String(cString: strerror(errno)))")
    }
}
