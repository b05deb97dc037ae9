import ArgumentParser

/// `herd-agent checks`: the check catalogue.
struct ChecksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checks",
        abstract: "List every check the agent can run, with the playbook step it automates.")

    @Flag(help: "Print the catalogue as the Markdown table of Agent/checks.md.")
    var markdown = false

    func run() {
        print(markdown ? Self.markdownTable() : Self.plainTable())
    }

    static func markdownTable() -> String {
        var lines = ["| id | playbook step | what it checks |", "|---|---|---|"]
        for check in CheckRegistry.all {
            lines.append("| `\(check.id)` | \(check.playbookStep) | \(check.title) |")
        }
        return lines.joined(separator: "\n")
    }

    static func plainTable() -> String {
        let width = CheckRegistry.all.map(\.id.count).max() ?? 0
        return CheckRegistry.all.map { check in
            check.id + String(repeating: " ", count: width - check.id.count) + "  " + check.title
        }.joined(separator: "\n")
    }
}
