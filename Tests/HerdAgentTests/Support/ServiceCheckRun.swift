import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport

/// Runs one service check on the healthy fixture host with an `.env.production` holding `env`.
/// `files` are written into the host tree first and `links` made there (host path → target), e.g. a
/// unit file or the symlink to a test server's socket.
func runServiceCheck(
    _ check: any Check, env: [String: String], memory: CheckMemory = CheckMemory(),
    version: MastodonVersion? = MastodonVersion(4, 3, 2), files: [String: String] = [:], links: [String: String] = [:],
    configure: (inout AgentConfiguration) -> Void = { _ in }
) async throws -> CheckOutcome {
    let host = try FixtureHost("healthy")
    defer { host.remove() }
    func parent(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    }
    for (path, text) in files {
        try parent(host.root + path)
        try text.write(toFile: host.root + path, atomically: true, encoding: .utf8)
    }
    for (path, target) in links {
        try parent(host.root + path)
        try FileManager.default.createSymbolicLink(atPath: host.root + path, withDestinationPath: target)
    }
    var configuration = try host.configuration()
    // The cycle's deadline is the runner's business (CheckRunnerTests). Here it must not run out on a
    // loaded CI machine before the check's own timeouts (services.timeout) are what a test looks at:
    // with the default 10 s, a slow start once left a check 100 ms for a server that answers at once.
    configuration.checkTimeout = .seconds(120)
    // Likewise the services' own timeout: a test about a stall sets a short one; the others must not
    // see a healthy server called silent because the suite's start-up loaded both cores (CI once saw
    // PostgreSQL's first answer take over 5 s while 250 tests started).
    configuration.serviceTimeout = .seconds(30)
    configure(&configuration)
    let context = CheckContext(
        host: try host.surfaces(configuration), configuration: configuration,
        mastodon: MastodonInstallation(
            liveDirectory: configuration.mastodonLiveDirectory, envFile: configuration.mastodonEnvFile,
            env: DotEnv(values: env), envProblem: nil, version: version),
        memory: memory, signatures: SignatureMatcher(table: .builtIn),
        deadline: ContinuousClock.now.advanced(by: configuration.checkTimeout), now: Date())
    return try await check.run(in: context)
}
