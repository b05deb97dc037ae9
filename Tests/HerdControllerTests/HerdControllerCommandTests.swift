import ArgumentParser
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
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

extension HerdControllerCommandTests {
    /// `migrate-store` refuses what it cannot use before it touches anything: a target that is not a
    /// PostgreSQL URL (or one with a weaker-by-typo parameter), a missing SQLite file; the password in
    /// `--to` is never echoed.
    @Test func migrateStoreRefusesBadArgumentsWithoutEchoingThePassword() async throws {
        let directory = try TemporaryDirectory("herd-migrate-args")
        defer { directory.remove() }
        for (arguments, why) in [
            (["--to", "mysql://u:hunter2-secret@h/d"], "not a postgresql:// URL"),
            (["--to", "postgresql://u:hunter2-secret@h/d?ssl=1"], "unknown parameter ssl"),
            (["--to", "postgresql://u:hunter2-secret@127.0.0.1/d"], "no SQLite store at"),
        ] {
            var command = try HerdControllerCommand.parseAsRoot(
                ["migrate-store", "--data-dir", directory.path] + arguments)
            do {
                if var async = command as? any AsyncParsableCommand { try await async.run() } else { try command.run() }
                Issue.record("ran \(arguments)")
            } catch {
                let message = HerdControllerCommand.message(for: error)
                #expect(message.contains(why) && !message.contains("hunter2"), "\(message)")
                #expect(HerdControllerCommand.exitCode(for: error) == .validationFailure)
            }
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("herd.sqlite")))
    }
}
