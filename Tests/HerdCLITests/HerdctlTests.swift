import ArgumentParser
import Foundation
import HerdCLI
import HerdProtocol
import HerdTestSupport
import Testing

@Suite struct HerdctlTests {
    @Test func versionIsHerdsVersion() {
        #expect(Herdctl.configuration.version == HerdVersion.current)
        #expect(Herdctl.configuration.commandName == "herdctl")
    }

    @Test(arguments: [
        ["--no-such-flag"], ["no-such-verb"], ["\u{0}\u{7}binary"], ["--\(String(repeating: "x", count: 10_000))"],
        // Durations are DurationText within their bounds: no bare seconds, no words, nothing past the bound.
        ["remediate", "show", "8b1cb33c-c368-4f68-9596-4a6b6810ef44", "--wait", "60"],
        ["remediate", "show", "8b1cb33c-c368-4f68-9596-4a6b6810ef44", "--wait", "forever"],
        ["remediate", "show", "8b1cb33c-c368-4f68-9596-4a6b6810ef44", "--wait", "2h"],
        ["incident", "remediate", "1", "--preview-wait", "30"],
        ["incident", "remediate", "1", "--preview-wait", "11m"],
        ["incident", "remediate", "1", "--quiet", "--json"],
        ["agents", "token", "--instance", "social.example", "--ttl", "8d"],
    ])
    func hostileArgumentsAreUsageErrors(arguments: [String]) {
        do {
            _ = try Herdctl.parseAsRoot(arguments)
            Issue.record("parsed \(arguments)")
        } catch {
            #expect(Herdctl.exitCode(for: error) == .validationFailure)
        }
    }
}

/// herdctl's configuration and transport refuse what would hang it or weaken it, before any request.
@Suite struct HerdctlConfigurationTests {
    static func write(_ directory: TemporaryDirectory, controller: String) throws -> String {
        try directory.write(
            "config",
            """
            controller = \(controller)
            ca = \(directory.file("ca.pem"))
            certificate = \(directory.file("cert.pem"))
            tls_key = \(directory.file("key.pem"))
            operator = alice
            signing_key = \(directory.file("signing.pem"))

            """)
        #expect(chmod(directory.file("config"), 0o600) == 0)
        return directory.file("config")
    }

    @Test func aFIFOForAConfigurationIsRefusedNotWaitedOn() throws {
        let directory = try TemporaryDirectory("herdctl-fifo")
        defer { directory.remove() }
        #expect(mkfifo(directory.file("config"), 0o600) == 0)
        // Opening a FIFO for reading waits for a writer for ever; herdctl must refuse it at once.
        let answer = try BuiltProduct.run("herdctl", ["status", "--config", directory.file("config")])
        #expect(answer.status == 2 && answer.output.contains("not a regular file"), "\(answer.output)")
    }

    /// The configuration comes from --config before or after the verb, or from HERDCTL_CONFIG.
    @Test func theConfigurationIsFoundThreeWays() throws {
        let directory = try TemporaryDirectory("herdctl-config")
        defer { directory.remove() }
        let config = try Self.write(directory, controller: "http://127.0.0.1:8443")
        for (arguments, environment) in [
            (["--config", config, "status"], [:]), (["--config=\(config)", "status"], [:]),
            (["status", "--config", config], [:]), (["status"], ["HERDCTL_CONFIG": config]),
        ] {
            let answer = try BuiltProduct.run("herdctl", arguments, environment: environment)
            // The file was read: its plain-HTTP controller is what is refused.
            #expect(answer.status == 2 && answer.output.contains("https://"), "\(arguments): \(answer.output)")
        }
    }

    @Test func plainHTTPToTheControllerIsRefused() throws {
        let directory = try TemporaryDirectory("herdctl-http")
        defer { directory.remove() }
        let config = try Self.write(directory, controller: "http://127.0.0.1:8443")
        let answer = try BuiltProduct.run("herdctl", ["status", "--config", config])
        #expect(answer.status == 2 && answer.output.contains("https://"), "\(answer.output)")
    }
}
