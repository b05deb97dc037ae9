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
    /// The multi-instance host's tree (`--shared-agent`): its bin and units, kernel log, policy, agent.
    public var sharedHostDirectory: String { directory + "/host" }

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
    public static let names = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima",
        "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    ].map { "\($0).lab.example" }
    public static let sharedEndpoint = "https://s3.shared-provider.example"
    /// The instance split over a database, a web and a Sidekiq host (`--split`), with storage of its own.
    public static let splitName = "split.lab.example"
    public static let splitEndpoint = "https://objects.split-provider.example"
    public static let ownEndpoint = "https://objects.other-provider.example"

    public static func endpoint(_ index: Int, of count: Int) -> String {
        index == count - 1 ? ownEndpoint : sharedEndpoint
    }

    /// The endpoint of `name` in a lab of `fleet` (the split instance's own, else by its place).
    public static func endpoint(of name: String, in fleet: [String]) -> String {
        if name == splitName { return splitEndpoint }
        let plain = names.filter(fleet.contains)
        return endpoint(plain.firstIndex(of: name) ?? 0, of: plain.count)
    }
}

/// The faults the lab can inject, one playbook step each, with the cause a senior Mastodon admin would
/// name for it (`herd-lab evaluate` holds Herd to it).
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
    /// The instance's PostgreSQL stops; Rails logs PG::ConnectionBad with its 500s.
    case pgDown = "pg-down"
    /// The instance's Redis is unreachable (REDIS_URL points at a closed port); Rails logs it.
    case redisDown = "redis-down"
    /// mastodon-web fails: puma answers nothing, nginx 502.
    case pumaDown = "puma-down"
    /// Puma answers nothing in time: nginx gives up with 504.
    case pumaSlow = "puma-slow"
    /// The streaming unit fails and its health endpoint stops answering.
    case streamingDown = "streaming-down"
    /// The kernel's OOM killer kills Sidekiq's bundle (a kernel log line).
    case oomKill = "oom-kill"
    /// DB_NAME points at a SQL_ASCII database.
    case sqlAscii = "sql-ascii"
    /// Local media (S3 off) in a directory the mastodon user cannot write.
    case mediaUnwritable = "media-unwritable"
    /// ffmpeg no longer runs (its libraries gone after an upgrade).
    case ffmpegMissing = "ffmpeg-missing"
    /// DB_POOL=5 under MAX_THREADS=10: Rails logs ActiveRecord::ConnectionTimeoutError on posting.
    case railsPool = "rails-pool"
    /// POST /api/v1/statuses answers 500 with a NoMethodError.
    case post500 = "post-500"
    /// Jobs wait half an hour in push while Sidekiq lives with idle threads.
    case sidekiqBacklog = "sidekiq-backlog"
    /// Every Sidekiq thread busy with a job that never ends while the queue waits.
    case sidekiqStuckJob = "sidekiq-stuck-job"
    /// Jobs fail and pile into the retry set.
    case retryGrowth = "retry-growth"
    /// mastodon-web dies right after start, again and again (systemd's NRestarts climbs).
    case crashLoop = "crash-loop"
    /// 5xx that rise and fall with traffic: past a load, puma has no worker left (Rails' 503).
    case load5xx = "load-5xx"
    /// The public certificate is replaced by one that expires in two days.
    case certExpiring = "cert-expiring"
    /// The instance's agent stops.
    case agentSilent = "agent-silent"

    public var summary: String {
        switch self {
        case .sidekiqDead: "Sidekiq dies (unit failed, no heartbeats)"
        case .diskFull: "the media volume fills (97 %)"
        case .dbPool: "PostgreSQL's connections saturate"
        case .upstream502: "nginx → puma fails intermittently (502)"
        case .objectStorage: "the shared object storage fails for every instance behind it"
        case .pgDown: "PostgreSQL stops"
        case .redisDown: "Redis is unreachable"
        case .pumaDown: "puma is down (nginx 502)"
        case .pumaSlow: "puma is too slow (nginx 504)"
        case .streamingDown: "the streaming server is down"
        case .oomKill: "the OOM killer kills Sidekiq"
        case .sqlAscii: "the database is SQL_ASCII"
        case .mediaUnwritable: "the media directory is not writable"
        case .ffmpegMissing: "ffmpeg no longer runs"
        case .railsPool: "Rails' pool is smaller than its threads (ConnectionTimeoutError)"
        case .post500: "posting answers 500 (NoMethodError)"
        case .sidekiqBacklog: "Sidekiq falls behind (push 30 min late, threads idle)"
        case .sidekiqStuckJob: "Sidekiq's threads are all stuck while jobs wait"
        case .retryGrowth: "Sidekiq jobs fail into the retry set"
        case .crashLoop: "mastodon-web crash-loops"
        case .load5xx: "5xx rise and fall with traffic (a 40 s ramp, errors past a capacity)"
        case .certExpiring: "the public certificate expires in two days"
        case .agentSilent: "the agent stops reporting"
        }
    }

    /// The cause Herd should name (the diagnosis rule), and for a fleet fault the fleet rule.
    public var expectedCause: String {
        switch self {
        case .sidekiqDead: "sidekiq_down"
        case .diskFull: "disk_full"
        case .dbPool: "db_connections_exhausted"
        case .upstream502: "web_intermittent"
        case .objectStorage: "provider_incident"
        case .pgDown: "db_unreachable"
        case .redisDown: "redis_down"
        case .pumaDown: "web_down"
        case .pumaSlow: "slow_upstream"
        case .streamingDown: "streaming_down"
        case .oomKill: "oom_kill"
        case .sqlAscii: "database_encoding"
        case .mediaUnwritable, .ffmpegMissing: "media_broken"
        case .railsPool: "rails_pool_exhausted"
        case .post500: "rails_exception"
        case .sidekiqBacklog: "sidekiq_backlog"
        case .sidekiqStuckJob: "sidekiq_stuck"
        case .retryGrowth: "sidekiq_failing"
        case .crashLoop: "crash_loop"
        case .load5xx: "errors_under_load"
        case .certExpiring: "tls"
        case .agentSilent: "agent_silent"
        }
    }

    /// Seconds the suite watches after the first incident, at least: a correlation with traffic needs
    /// several of its waves (three cycles with 5xx) before it can be told from a plain failure.
    public var minimumSettle: Int { self == .load5xx ? 60 : 0 }

    /// Whether it hits every instance behind a shared attribute (one fleet incident) or one instance.
    public var isFleetWide: Bool { self == .objectStorage }

    /// It mounts a tmpfs: root only.
    public var needsRoot: Bool { self == .diskFull }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}
