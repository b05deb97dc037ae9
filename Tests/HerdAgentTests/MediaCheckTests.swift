import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// The media check runs only what the agent's own `command_path` holds: tools that `.env.production`
/// (a file the mastodon user writes) names are looked at, never executed.
@Suite struct MediaCheckTests {
    /// Runs the media check alone on the healthy fixture host with `env` appended to its `.env.production`.
    static func media(on host: FixtureHost, env: String) async throws -> CheckResult {
        let file = host.root + "/home/mastodon/live/.env.production"
        let original = try String(contentsOfFile: file, encoding: .utf8)
        try (original + env).write(toFile: file, atomically: true, encoding: .utf8)
        var configuration = try host.configuration()
        configuration.enabledChecks = ["media"]
        let results = try await host.runner(configuration).runCycle()
        return try #require(results.first { $0.checkID == "media" })
    }

    @Test func aToolNamedByDotEnvIsNeverRun() async throws {
        let host = try FixtureHost("healthy")
        defer { host.remove() }
        // What a compromised Rails app would leave: a script it owns, named as ffmpeg.
        let marker = host.temporary.file("ran")
        try FileManager.default.createDirectory(
            atPath: host.root + "/home/mastodon/bin", withIntermediateDirectories: true)
        let script = host.root + "/home/mastodon/bin/ffmpeg"
        try "#!/bin/sh\necho pwned > \(marker)\necho 'ffmpeg version 9.9'\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let result = try await Self.media(
            on: host,
            env: "FFMPEG_BINARY=/home/mastodon/bin/ffmpeg\nFFPROBE_BINARY=../../../tmp/\(UUID().uuidString)\n")

        #expect(!FileManager.default.fileExists(atPath: marker), "the agent ran a path from .env.production")
        // The named ffmpeg exists and is executable: present, said where it is, not run.
        #expect(result.metrics["ffmpeg.present"] == 1)
        #expect(
            result.summary.contains("ffmpeg /home/mastodon/bin/ffmpeg from FFMPEG_BINARY, not run by the agent"),
            "\(result.summary)")
        // The named ffprobe does not exist (a relative path is Mastodon's live dir's): media breaks.
        #expect(result.status == .critical)
        #expect(result.metrics["ffprobe.present"] == 0)
        #expect(result.findings.contains { $0.signature == "ffprobe missing" }, "\(result.summary)")
    }

    @Test func aNamedFileThatCannotRunIsCriticalAndABareNameComesFromCommandPath() async throws {
        let host = try FixtureHost("healthy")
        defer { host.remove() }
        try "not a program".write(toFile: host.root + "/usr-ffmpeg", atomically: true, encoding: .utf8)
        chmod(host.root + "/usr-ffmpeg", 0o644)
        let result = try await Self.media(on: host, env: "FFMPEG_BINARY=/usr-ffmpeg\nFFPROBE_BINARY=ffprobe\n")
        #expect(result.status == .critical)
        #expect(result.summary.contains("FFMPEG_BINARY=/usr-ffmpeg is not an executable file"), "\(result.summary)")
        // `ffprobe` by name: the fixture's stand-in on command_path ran and answered its version.
        #expect(result.metrics["ffprobe.present"] == 1, "\(result.summary)")
        #expect(!result.summary.contains("ffprobe not runnable") && !result.summary.contains("ffprobe missing"))
    }
}
