import FoundationEssentials

/// The clock checks read; tests fix it so results are reproducible.
public protocol AgentClock: Sendable {
    func now() -> Date
}

public struct SystemClock: AgentClock {
    public init() {}
    public func now() -> Date { Date() }
}

public struct FixedClock: AgentClock {
    public var date: Date
    public init(_ date: Date) { self.date = date }
    public func now() -> Date { date }
}

/// Everything of the host a check may touch, each surface swappable for tests: the filesystem seen
/// from a root, volume usage, the journal, systemd, a process runner (argv only) and a clock.
public struct HostSurfaces: Sendable {
    public var filesystem: HostFilesystem
    public var volumes: any VolumeReader
    public var journal: any JournalReader
    public var systemd: any SystemdReader
    public var processes: any ProcessRunner
    public var clock: any AgentClock
    /// The whole environment of every command a check runs.
    public var commandEnvironment: [String: String]

    public init(
        filesystem: HostFilesystem, volumes: any VolumeReader, journal: any JournalReader,
        systemd: any SystemdReader, processes: any ProcessRunner, clock: any AgentClock,
        commandEnvironment: [String: String]
    ) {
        self.filesystem = filesystem
        self.volumes = volumes
        self.journal = journal
        self.systemd = systemd
        self.processes = processes
        self.clock = clock
        self.commandEnvironment = commandEnvironment
    }

    /// The real host as `configuration` describes it.
    public static func live(_ configuration: AgentConfiguration, extraEnvironment: [String: String] = [:])
        -> HostSurfaces
    {
        let filesystem = HostFilesystem(root: configuration.hostRoot)
        let runner = SpawnProcessRunner()
        var environment = [
            "PATH": configuration.commandPath, "LC_ALL": "C", "LANG": "C", "SYSTEMD_COLORS": "0",
            "SYSTEMD_PAGER": "", "SYSTEMD_URLIFY": "0", "TZ": "UTC",
        ]
        environment.merge(extraEnvironment) { $1 }
        let journal = JournalctlReader(
            runner: runner, environment: environment, directory: configuration.journalDirectory)
        var systemd: any SystemdReader = SystemctlReader(runner: runner, environment: environment)
        var logs: any JournalReader = journal
        if let socket = configuration.dockerSocket {
            let containers = DockerUnits(
                engine: DockerEngine(socketPath: socket), project: configuration.dockerProject,
                services: configuration.dockerServices)
            systemd = containers
            logs = DockerLogs(units: containers, kernel: journal)
        }
        return HostSurfaces(
            filesystem: filesystem, volumes: StatvfsVolumeReader(filesystem: filesystem), journal: logs,
            systemd: systemd, processes: runner, clock: SystemClock(), commandEnvironment: environment)
    }
}

/// What one check sees in one cycle: the host, the configuration, the Mastodon installation, what it
/// remembered from its last cycle, and its deadline.
public struct CheckContext: Sendable {
    public var host: HostSurfaces
    public var configuration: AgentConfiguration
    public var mastodon: MastodonInstallation
    public var memory: CheckMemory
    /// The signature table log-reading checks classify with (built-in plus the operator's files).
    public var signatures: SignatureMatcher
    public var deadline: ContinuousClock.Instant
    /// When this cycle started; the same for every check of a cycle.
    public var now: Date

    public init(
        host: HostSurfaces, configuration: AgentConfiguration, mastodon: MastodonInstallation, memory: CheckMemory,
        signatures: SignatureMatcher, deadline: ContinuousClock.Instant, now: Date
    ) {
        self.host = host
        self.configuration = configuration
        self.mastodon = mastodon
        self.memory = memory
        self.signatures = signatures
        self.deadline = deadline
        self.now = now
    }

    public var filesystem: HostFilesystem { host.filesystem }

    /// Time left before the check's deadline, at least 100 ms so a command gets a chance to answer.
    public var remaining: Duration {
        max(.milliseconds(100), ContinuousClock.now.duration(to: deadline))
    }

    /// A command request with the check's environment and the time it has left.
    public func command(_ executable: String, _ arguments: [String], maxOutputBytes: Int = 1 << 20) -> ProcessRequest {
        ProcessRequest(
            executable, arguments, environment: host.commandEnvironment, timeout: remaining,
            maxOutputBytes: maxOutputBytes)
    }
}
