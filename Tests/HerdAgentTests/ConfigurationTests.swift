import Foundation
import HerdAgent
import HerdTestSupport
import Testing

@Suite struct ConfigurationTests {
    @Test func theExampleIsTheDefaultsAndNamesEveryKey() throws {
        let text = try String(contentsOfFile: RepositoryPaths.path("Agent/agent.conf.example"), encoding: .utf8)
        let parsed = try AgentConfiguration.parse(text, source: "agent.conf.example")
        #expect(parsed == AgentConfiguration())
        // Its settings are exactly what the key table renders for the defaults, in the table's order:
        // the file is the table's, with the comments a reader needs.
        let difference = try Golden.compareSettings(
            AgentConfiguration().render(), toExample: "Agent/agent.conf.example")
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test func renderReadsBackToTheSameConfiguration() throws {
        var configuration = AgentConfiguration()
        configuration.logFiles = ["/srv/a.log", "/srv/b.log"]
        configuration.enabledChecks = ["logs", "disk"]
        configuration.tags = ["region": "eu-central"]
        configuration.checkTimeout = .seconds(30)
        #expect(try AgentConfiguration.parse(configuration.render(), source: "x") == configuration)
    }

    @Test(arguments: [
        ("intervall = 60", "x:1: unknown key intervall"),
        ("interval = 60\ninterval = 30", "x:2: interval is set twice"),
        (
            "interval = 1",
            "x:1: expected a duration such as 30s, 5m or 2h (a whole number and ms, s, m, h or d), from 5s to 1d"
        ),
        (
            "interval = 1.5m",
            "x:1: expected a duration such as 30s, 5m or 2h (a whole number and ms, s, m, h or d), from 5s to 1d"
        ),
        ("state_dir = relative/path", "x:1: expected an absolute path"),
        ("units.web = mastodon-web", "x:1: unit names end in .service"),
        ("units.web = --help.service", "x:1: expected a name without spaces"),
        (
            "checks.timeout = forever",
            "x:1: expected a duration such as 30s, 5m or 2h (a whole number and ms, s, m, h or d), from 1s to 5m"
        ),
        ("logs.max_bytes_per_cycle = 1TiB", "x:1: expected a size such as 16MiB, between 65536 and 1073741824 bytes"),
        ("just words", "x:1: expected key = value"),
        ("tag.Bad Name = x", "x:1: tag names are identifiers"),
        ("disk.warning_percent = 101", "x:1: expected a number in 0...100"),
        ("docker.socket = run/docker.sock", "x:1: expected an absolute path"),
        ("docker.project = my project", "x:1: expected a name without spaces"),
        ("docker.services = web", "x:1: docker.services entries are SERVICE=UNIT"),
        ("docker.services = web=mastodon-web", "x:1: unit names end in .service"),
        ("docker.services = -rm=mastodon-web.service", "x:1: expected a name without spaces"),
    ])
    func badLinesAreRefusedWithTheirLine(_ text: String, _ message: String) {
        #expect(throws: ConfigurationError(message)) { try AgentConfiguration.parse(text, source: "x") }
    }

    @Test func dotenvReadsWhatMastodonWrites() {
        let env = DotEnv.parse(
            """
            # comment
            LOCAL_DOMAIN=social.example
            export SMTP_SERVER=smtp.example.net
            DB_PASS="p@ss \\"quoted\\" # not a comment"
            SINGLE='literal $LOCAL_DOMAIN'
            URL=https://${LOCAL_DOMAIN}/path # trailing comment
            MULTI="line one
            line two"
            CMD=$(rm -rf /)
            EMPTY=
            bad line without equals
            9BAD=x
            WINDOWS=crlf\r
            """)
        #expect(env["LOCAL_DOMAIN"] == "social.example")
        #expect(env["SMTP_SERVER"] == "smtp.example.net")
        #expect(env["DB_PASS"] == "p@ss \"quoted\" # not a comment")
        #expect(env["SINGLE"] == "literal $LOCAL_DOMAIN")
        #expect(env["URL"] == "https://social.example/path")
        #expect(env["MULTI"] == "line one\nline two")
        #expect(env["CMD"] == "$(rm -rf /)")
        #expect(env["EMPTY"] == "")
        #expect(env["WINDOWS"] == "crlf")
        #expect(env.problems == ["11: not KEY=value", "12: invalid key"])
        #expect(!env.problems.joined().contains("p@ss"))
    }

    /// A `.env.production` saved with Windows line endings is read line by line, as Ruby's dotenv does.
    @Test func dotenvReadsCRLFLineEndings() {
        let env = DotEnv.parse(
            "LOCAL_DOMAIN=social.example\r\nDB_HOST=db.internal\r\nDB_PORT=6432\r\nMULTI=\"a\r\nb\"\r\nOLD_MAC=x\rNEXT=y\r\n"
        )
        #expect(env["LOCAL_DOMAIN"] == "social.example")
        #expect(env["DB_HOST"] == "db.internal" && env["DB_PORT"] == "6432")
        #expect(env["MULTI"] == "a\nb")
        #expect(env["OLD_MAC"] == "x" && env["NEXT"] == "y")
        #expect(env.problems.isEmpty)
    }

    @Test func mastodonVersionFromVersionRB() {
        let text =
            "def major\n  4\nend\ndef minor\n  5\nend\ndef patch\n  0\nend\ndef default_prerelease\n  'beta.2'\nend\n"
        #expect(MastodonVersion(versionRB: text) == MastodonVersion(4, 5, 0, prerelease: "beta.2"))
        #expect(MastodonVersion(versionRB: "garbage") == nil)
    }

    @Test func theCatalogueInAgentChecksMdIsTrue() throws {
        let text = try String(contentsOfFile: RepositoryPaths.path("Agent/checks.md"), encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try BuiltProduct.path("herd-agent"))
        process.arguments = ["checks", "--markdown"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let table = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(text.contains(table), "Agent/checks.md is out of date: paste `herd-agent checks --markdown`")
        for check in CheckRegistry.all { #expect(text.contains("`\(check.id)`")) }
    }

    @Test func theOperatorSignatureFileIsTheBuiltInTable() throws {
        let text = try String(contentsOfFile: RepositoryPaths.path("Agent/signatures.tsv"), encoding: .utf8)
        #expect(text == SignatureTable.builtInText + "\n")
    }
}
