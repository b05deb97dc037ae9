import ArgumentParser
import Foundation
import HerdProtocol
import HerdTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `herd-lab`: a fleet of simulated Mastodon instances on this machine, with real nginx, Redis and
/// PostgreSQL, a real controller and one real agent per instance over mutual TLS — to demo Herd, to
/// explore it, and for the end-to-end tests and benchmarks.
public struct HerdLabCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "herd-lab",
        abstract: "A lab fleet on this machine: up, break INSTANCE FAULT, heal, status, demo, evaluate, down.",
        discussion: """
            Everything lives in one directory (--dir, default /tmp/herd-lab) and `down` removes it with every \
            process the lab started. Needs redis-server, nginx and PostgreSQL installed (scripts/test.sh \
            installs them) and the Herd binaries next to herd-lab (swift build -c release).
            """,
        subcommands: [
            LabUp.self, LabSupervise.self, LabBreak.self, LabHeal.self, LabStatus.self, LabDemo.self, LabEvaluate.self,
            LabDown.self,
        ])

    public init() {}
}

/// A duration option (`DurationText`: `90s`, `3m`) in whole seconds; `option` names it in the usage error.
func wholeSeconds(_ text: String, _ option: String, in range: ClosedRange<Duration>) throws -> Int {
    guard let duration = DurationText.parse(text, in: range) else {
        throw ValidationError("\(option) \(text): \(DurationText.expected(range))")
    }
    return Int(duration.components.seconds)
}

struct LabOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The lab's directory.", valueName: "dir"))
    var dir = "/tmp/herd-lab"

    var layout: LabLayout { LabLayout(directory: dir) }

    func validate() throws {
        guard dir.hasPrefix("/"), dir != "/", !dir.contains("/../") else {
            throw ValidationError("--dir must be an absolute path (not /)")
        }
    }

    /// Sends a request to the supervisor and waits for its answer.
    func request(_ words: [String], timeout: Double = 60) throws -> String {
        let layout = self.layout
        guard layout.supervisorPID != nil else { throw LabError("no lab runs in \(dir): herd-lab up") }
        let id = UUID().uuidString.lowercased()
        let request = layout.controlDirectory + "/\(Int(Date().timeIntervalSince1970 * 1000))-\(id).request"
        let answer = request.replacingOccurrences(of: ".request", with: ".answer")
        try words.joined(separator: " ").write(toFile: request + ".tmp", atomically: true, encoding: .utf8)
        rename(request + ".tmp", request)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: answer, encoding: .utf8) {
                try? FileManager.default.removeItem(atPath: answer)
                if text.hasPrefix("error: ") { throw LabError(String(text.dropFirst(7))) }
                return text
            }
            usleep(100_000)
        }
        throw LabError("the lab did not answer within \(Int(timeout)) s (see \(layout.logFile))")
    }
}

struct LabUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the lab: controller, Redis, PostgreSQL, and per instance nginx, puma and an agent.")
    @OptionGroup var options: LabOptions
    @Option(help: "Instances (2 to 20).") var instances = 4
    @Flag(help: "One agent on one host watches every instance (a multi-instance host), not one agent each.")
    var sharedAgent = false
    @Flag(help: "Add split.lab.example: one instance over a database, a web and a Sidekiq host, an agent each.")
    var split = false

    func validate() throws {
        guard (2...LabFleet.names.count).contains(instances) else {
            throw ValidationError("--instances is 2 to \(LabFleet.names.count)")
        }
    }

    func run() async throws {
        let layout = options.layout
        if layout.supervisorPID != nil { throw LabError("a lab runs in \(options.dir) already: herd-lab down first") }
        try? FileManager.default.removeItem(atPath: layout.directory)
        if getuid() == 0 {
            // PostgreSQL refuses root and runs as postgres: it must be able to reach the lab's directory.
            var path = URL(fileURLWithPath: layout.directory).deletingLastPathComponent().path
            while path != "/" {
                var info = stat()
                if stat(path, &info) == 0, info.st_mode & 0o001 == 0 {
                    throw LabError(
                        "\(path) is not traversable by other users (PostgreSQL runs as postgres): choose another --dir")
                }
                path = URL(fileURLWithPath: path).deletingLastPathComponent().path
            }
        }
        try FileManager.default.createDirectory(
            atPath: layout.temporaryDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755]
        )
        chmod(layout.directory, 0o755)
        // The supervisor, detached: its own session, its output in the lab's log, every temp dir inside the lab.
        var environment = ProcessInfo.processInfo.environment
        environment["TMPDIR"] = layout.temporaryDirectory + "/"
        let pid = try LabSpawn.detached(
            LabLayout.binaries + "/herd-lab",
            ["supervise", "--dir", layout.directory, "--instances", String(instances)]
                + (sharedAgent ? ["--shared-agent"] : []) + (split ? ["--split"] : []), environment: environment,
            log: layout.logFile)
        print("starting the lab (supervisor pid \(pid)); log: \(layout.logFile)")
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            if let ready = try? String(contentsOfFile: layout.readyFile, encoding: .utf8) {
                print(ready)
                print(
                    """
                    Break something:  herd-lab break alpha sidekiq-dead --dir \(layout.directory)   (faults: \(LabFault.allCases.map(\.rawValue).joined(separator: ", ")))
                    Watch:            herd-lab status --dir \(layout.directory); herdctl --config \(layout.adminConfig) incidents
                    Heal:             herd-lab heal all --dir \(layout.directory)
                    Stop and remove:  herd-lab down --dir \(layout.directory)
                    """)
                return
            }
            if let failure = try? String(contentsOfFile: layout.failedFile, encoding: .utf8) {
                throw LabError("the lab did not start: \(failure) (see \(layout.logFile))")
            }
            if kill(pid, 0) != 0 {
                throw LabError("the supervisor exited (see \(layout.logFile))")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw LabError("the lab did not start within 5 minutes (see \(layout.logFile))")
    }
}

struct LabSupervise: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supervise", abstract: "The lab's own process (started by up).", shouldDisplay: false)
    @OptionGroup var options: LabOptions
    @Option var instances = 4
    @Flag var sharedAgent = false
    @Flag var split = false

    func run() async throws {
        signal(SIGPIPE, SIG_IGN)
        try await LabSupervisor(layout: options.layout, instances: instances, sharedAgent: sharedAgent, split: split)
            .run()
    }
}

struct LabBreak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "break", abstract: "Inject a fault into an instance.",
        discussion: LabFault.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "\n"))
    @OptionGroup var options: LabOptions
    @Argument(help: "The instance (alpha or alpha.lab.example).") var instance: String
    @Argument(help: "The fault.") var fault: String

    func validate() throws {
        guard LabFault(rawValue: fault) != nil else {
            throw ValidationError("faults: \(LabFault.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard instance.allSatisfy({ $0.isLetter || $0 == "." }) else { throw ValidationError("not an instance name") }
    }

    func run() async throws {
        print(try options.request(["break", instance, fault]))
    }
}

struct LabHeal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heal", abstract: "Undo the faults of one instance, or all.")
    @OptionGroup var options: LabOptions
    @Argument(help: "The instance, or all.") var instance = "all"

    func validate() throws {
        guard instance.allSatisfy({ $0.isLetter || $0 == "." }) else { throw ValidationError("not an instance name") }
    }

    func run() async throws {
        print(try options.request(["heal", instance]))
    }
}

struct LabStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Where the lab lives, and the fleet as herdctl shows it.")
    @OptionGroup var options: LabOptions

    func run() async throws {
        let layout = options.layout
        guard layout.supervisorPID != nil, let ready = try? String(contentsOfFile: layout.readyFile, encoding: .utf8)
        else { throw LabError("no lab runs in \(options.dir): herd-lab up") }
        print(ready)
        let (_, output) = try LabProcess.run(
            LabLayout.binaries + "/herdctl", ["status", "--all", "--config", layout.adminConfig])
        print(output, terminator: "")
    }
}

struct LabDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "down", abstract: "Stop every process of the lab and remove its directory.")
    @OptionGroup var options: LabOptions

    func run() async throws {
        let layout = options.layout
        if let pid = layout.supervisorPID {
            try "down".write(toFile: layout.controlDirectory + "/0-down.request", atomically: true, encoding: .utf8)
            let deadline = Date().addingTimeInterval(60)
            while kill(pid, 0) == 0, Date() < deadline { try await Task.sleep(for: .milliseconds(200)) }
            if kill(pid, 0) == 0 {
                // Stuck: the whole session goes (the supervisor leads it, every child belongs to it).
                kill(-pid, SIGKILL)
            }
        }
        // Whatever is left — a supervisor that died, a child it could not stop — goes too.
        LabDown.killLeftovers(mentioning: layout.directory)
        try? FileManager.default.removeItem(atPath: layout.directory)
        print("lab down; \(options.dir) removed")
    }

    /// This process and the ones that started it (a script, a shell): they may name the lab's
    /// directory on their command line (`quickstart.sh --dir DIR`) but are never the lab's.
    static func ancestors() -> Set<Int32> {
        var chain: Set<Int32> = []
        var pid = getpid()
        while pid > 1, chain.insert(pid).inserted {
            // /proc/PID/stat: "PID (COMM) STATE PPID …"; COMM may hold spaces and parentheses.
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"),
                let parent = stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.flatMap({
                    Int32($0)
                })
            else { break }
            pid = parent
        }
        return chain
    }

    /// Processes whose command line, working directory or open files are in the lab's directory, and
    /// tmpfs mounts inside it; never the caller or its ancestors.
    static func killLeftovers(mentioning directory: String) {
        let callers = ancestors()
        // Some tools print the path normalised (PostgreSQL drops a doubled slash): look for both.
        var collapsed = directory
        while collapsed.contains("//") { collapsed = collapsed.replacingOccurrences(of: "//", with: "/") }
        func names(_ line: String) -> Bool {
            [directory, collapsed].contains { line.contains($0 + "/") || line.hasSuffix($0 + " ") }
        }
        func leftovers() -> [Int32] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry in
                guard let pid = Int32(entry), !callers.contains(pid),
                    let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
                else { return nil }
                let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
                if names(line) { return pid }
                // redis-server and PostgreSQL's children rename themselves: their working directory
                // (redis-server keeps no file open in its --dir) or their open files tell.
                if let cwd = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/cwd"),
                    names(cwd + "/")
                {
                    return pid
                }
                let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(entry)/fd")) ?? []
                for fd in fds {
                    if let target = try? FileManager.default.destinationOfSymbolicLink(
                        atPath: "/proc/\(entry)/fd/\(fd)"),
                        names(target + " ")
                    {
                        return pid
                    }
                }
                return nil
            }
        }
        for pid in leftovers() { kill(pid, SIGTERM) }
        for _ in 0..<20 where !leftovers().isEmpty { usleep(100_000) }
        for pid in leftovers() { kill(pid, SIGKILL) }
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count > 1, fields[1].hasPrefix(directory + "/") || fields[1].hasPrefix(collapsed + "/") {
                _ = try? LabProcess.run("/bin/umount", [String(fields[1])])
            }
        }
    }
}

/// Spawns a process in a session of its own, detached from this terminal (argv, no shell).
enum LabSpawn {
    static func detached(_ executable: String, _ arguments: [String], environment: [String: String], log: String)
        throws -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of ours: a pipe of whoever started `up` must not stay open in the lab.
        _ = spawnCloseFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID (glibc ≥ 2.26), which Swift's Glibc module hides behind _GNU_SOURCE.
        let setsid: Int16 = 0x80
        posix_spawnattr_setflags(&attributes, setsid)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else { throw LabError("cannot start \(executable): \(String(cString: strerror(status)))") }
        return pid
    }
}
