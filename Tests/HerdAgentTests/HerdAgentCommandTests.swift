import ArgumentParser
import HerdAgent
import HerdProtocol
import Testing

@Suite struct HerdAgentCommandTests {
    @Test func versionIsHerdsVersion() {
        #expect(HerdAgentCommand.configuration.version == HerdVersion.current)
        #expect(HerdAgentCommand.configuration.commandName == "herd-agent")
    }

    @Test(arguments: [
        ["--no-such-flag"], ["no-such-verb"], ["\u{0}\u{7}binary"], ["--\(String(repeating: "x", count: 10_000))"],
    ])
    func hostileArgumentsAreUsageErrors(arguments: [String]) {
        do {
            _ = try HerdAgentCommand.parseAsRoot(arguments)
            Issue.record("parsed \(arguments)")
        } catch {
            #expect(HerdAgentCommand.exitCode(for: error) == .validationFailure)
        }
    }
}
