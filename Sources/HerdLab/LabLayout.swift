import Foundation

/// Where a lab keeps everything: one directory, removed whole by `herd-lab down`. Every temporary
/// directory the lab's services make (Redis, PostgreSQL, nginx) lives under `tmp/` inside it.
public struct LabLayout: Sendable {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public var pidFile: String { directory + "/supervisor.pid" }
    public var readyFile: String { directory + "/ready" }
    public var failedFile: String { directory + "/failed" }
    public var logFile: String { directory + "/supervisor.log" }
    public var controlDirectory: String { directory + "/control" }
    public var temporaryDirectory: String { directory + "/tmp" }
    public var controllerDirectory: String { directory + "/controller" }
    public var adminConfig: String { directory + "/operators/admin/config" }
    public var secondOperatorConfig: String { directory + "/operators/bob/config" }
    public func instanceDirectory(_ name: String) -> String { directory + "/instances/" + name }

    /// The Herd binaries next to this executable (one build directory).
    public static var binaries: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().path
    }

    /// The supervisor's pid, when one runs.
    public var supervisorPID: Int32? {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmed),
            kill(pid, 0) == 0
        else { return nil }
        return pid
    }
}

/// The lab's instances: NATO names under lab.example. All but the last share one object-storage
/// endpoint (a provider outage there is a fleet incident); the last has its own.
public enum LabFleet {
    public static let names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"].map {
        "\($0).lab.example"
    }
    public static let sharedEndpoint = "https://s3.shared-provider.example"
    public static let ownEndpoint = "https://objects.other-provider.example"

    public static func endpoint(_ index: Int, of count: Int) -> String {
        index == count - 1 ? ownEndpoint : sharedEndpoint
    }
}

/// The faults the lab can inject: each one a step of the posting-error playbook.
public enum LabFault: String, Sendable, CaseIterable {
    /// Sidekiq's unit fails and its heartbeats stop: queues pile up.
    case sidekiqDead = "sidekiq-dead"
    /// The media volume (a 32 MiB tmpfs; needs root) fills to 97 %.
    case diskFull = "disk-full"
    /// Connections held open until PostgreSQL is at ~92 % of what Mastodon may use.
    case dbPool = "db-pool"
    /// Puma drops every other connection: nginx answers 502 now and then.
    case upstream502 = "upstream-502"
    /// Mastodon logs "Storage server error" on every instance sharing this one's endpoint.
    case objectStorage = "object-storage"

    public var summary: String {
        switch self {
        case .sidekiqDead: "Sidekiq dies (unit failed, no heartbeats)"
        case .diskFull: "the media volume fills (97 %)"
        case .dbPool: "PostgreSQL's connections saturate"
        case .upstream502: "nginx → puma fails intermittently (502)"
        case .objectStorage: "the shared object storage fails for every instance behind it"
        }
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
