import ArgumentParser
import HerdCLI
import HerdProtocol
import Testing

@Suite struct HerdctlTests {
    @Test func versionIsHerdsVersion() {
        #expect(Herdctl.configuration.version == HerdVersion.current)
        #expect(Herdctl.configuration.commandName == "herdctl")
    }

    @Test(arguments: [
        ["--no-such-flag"], ["no-such-verb"], ["\u{0}\u{7}binary"], ["--\(String(repeating: "x", count: 10_000))"],
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
