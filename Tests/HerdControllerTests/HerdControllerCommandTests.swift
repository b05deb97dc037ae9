import ArgumentParser
import HerdController
import HerdProtocol
import Testing

@Suite struct HerdControllerCommandTests {
    @Test func versionIsHerdsVersion() {
        #expect(HerdControllerCommand.configuration.version == HerdVersion.current)
        #expect(HerdControllerCommand.configuration.commandName == "herd-controller")
    }

    @Test(arguments: [
        ["--no-such-flag"], ["no-such-verb"], ["\u{0}\u{7}binary"], ["--\(String(repeating: "x", count: 10_000))"],
    ])
    func hostileArgumentsAreUsageErrors(arguments: [String]) {
        do {
            _ = try HerdControllerCommand.parseAsRoot(arguments)
            Issue.record("parsed \(arguments)")
        } catch {
            #expect(HerdControllerCommand.exitCode(for: error) == .validationFailure)
        }
    }
}
