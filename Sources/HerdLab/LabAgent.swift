import Foundation

/// One `herd-agent run` of the lab: its configuration, its log, its process.
final class LabAgent: @unchecked Sendable {
    let config: String
    let log: String
    var process: Process?

    init(config: String, log: String) {
        self.config = config
        self.log = log
    }

    var isRunning: Bool { process?.isRunning == true }

    func start(binary: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run", "--config", config, "--log-level", "notice"]
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    func stop() {
        if let process, process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// Where an instance's agent runs: its own host (one agent per instance, as most fleets are), the
/// lab's one multi-instance host (one agent for every instance, template units, one kernel log), or
/// the hosts of a split instance (a database, a web and a Sidekiq host, one agent each with its role).
enum LabPlacement: Sendable, Equatable {
    case own
    case shared(host: String)
    case split

    /// The parts of a split instance: host name, role, and the checks its agent runs.
    static let parts: [(host: String, role: String, checks: String)] = [
        ("db-1", "db", "services, postgresql, disk"),
        ("web-1", "web", "services, logs, nginx.error_log, nginx.access_log, mastodon.http, disk, media"),
        ("sidekiq-1", "sidekiq", "services, sidekiq, disk, oom"),
    ]
}
