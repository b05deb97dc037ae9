import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A command to run: an executable and its arguments as an argv array — never a shell line.
public struct ProcessRequest: Sendable, Hashable {
    /// An absolute path, or a name looked up in the `PATH` of `environment`.
    public var executable: String
    public var arguments: [String]
    /// The child's whole environment; nothing of the agent's own is inherited.
    public var environment: [String: String]
    public var timeout: Duration
    /// Standard output kept by `run(_:)`; more is read and dropped, and flagged.
    public var maxOutputBytes: Int

    public init(
        _ executable: String, _ arguments: [String], environment: [String: String], timeout: Duration,
        maxOutputBytes: Int = 1 << 20
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.timeout = timeout
        self.maxOutputBytes = maxOutputBytes
    }

    /// The command as a person would type it, for messages (arguments are not shell-quoted).
    public var displayName: String { ([executable] + arguments).joined(separator: " ") }
}

/// How a child process ended and what it printed.
public struct ProcessOutcome: Sendable, Hashable {
    public enum Termination: Sendable, Hashable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let status): "exit status \(status)"
            case .signalled(let signal): "signal \(signal)"
            }
        }
    }

    public var termination: Termination
    /// Standard output, when it was collected rather than streamed.
    public var stdout: [UInt8]
    /// The last 8 KiB of standard error.
    public var stderr: [UInt8]
    public var stdoutTruncated: Bool
    /// Killed at the timeout.
    public var timedOut: Bool
    /// Killed because the reader of its output had read enough.
    public var stoppedEarly: Bool

    public var succeeded: Bool { termination == .exited(0) && !timedOut }

    /// The first line of standard error, for a one-line summary.
    public var stderrLine: String {
        let text = String(decoding: stderr, as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
    }
}

/// Runs commands for checks; tests swap in stand-in executables on `PATH`, never a fake runner.
public protocol ProcessRunner: Sendable {
    /// Runs the command to its end (or its timeout), handing standard output to `stdout` chunk by chunk;
    /// when `stdout` returns false the child is killed and the outcome says `stoppedEarly`. Blocks the
    /// calling thread.
    func run(_ request: ProcessRequest, stdout: (UnsafeBufferPointer<UInt8>) -> Bool) throws(HostError)
        -> ProcessOutcome
}

extension ProcessRunner {
    /// Runs the command and collects its standard output (up to `maxOutputBytes`).
    public func run(_ request: ProcessRequest) throws(HostError) -> ProcessOutcome {
        var output: [UInt8] = []
        var truncated = false
        var outcome = try run(request) { chunk in
            let room = request.maxOutputBytes - output.count
            if chunk.count > room { truncated = true }
            output.append(contentsOf: chunk.prefix(max(0, room)))
            return true
        }
        outcome.stdout = output
        outcome.stdoutTruncated = truncated
        return outcome
    }
}

/// The real runner: `posix_spawn` with stdin from /dev/null, stdout and stderr on pipes, the child in
/// its own process group (so a timeout kills its children too) and default signal dispositions.
public struct SpawnProcessRunner: ProcessRunner {
    static let stderrKeptBytes = 8 * 1024
    private static let spawnLock = Mutex<Void>(())

    private static func closeOnExecPipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return true
    }

    public init() {}

    public func run(_ request: ProcessRequest, stdout consume: (UnsafeBufferPointer<UInt8>) -> Bool)
        throws(HostError) -> ProcessOutcome
    {
        let path = try Self.locate(request.executable, searchPath: request.environment["PATH"] ?? "")
        let deadline = ContinuousClock.now.advanced(by: request.timeout)
        var outPipe: [Int32] = [-1, -1]
        var errPipe: [Int32] = [-1, -1]
        // Glibc's module does not export pipe2: create and mark close-on-exec under the same lock every
        // spawn takes, so no concurrent spawn can inherit these descriptors in between.
        let pid: pid_t = try Self.spawnLock.withLock { _ throws(HostError) -> pid_t in
            guard Self.closeOnExecPipe(&outPipe) else { throw .errno(errno, "pipe") }
            guard Self.closeOnExecPipe(&errPipe) else {
                let code = errno
                close(outPipe[0])
                close(outPipe[1])
                throw .errno(code, "pipe")
            }
            defer {
                close(outPipe[1])
                close(errPipe[1])
            }
            do throws(HostError) {
                return try Self.spawn(path, request, stdout: outPipe[1], stderr: errPipe[1])
            } catch {
                close(outPipe[0])
                close(errPipe[0])
                throw error
            }
        }
        defer {
            close(outPipe[0])
            close(errPipe[0])
        }

        var stderrTail: [UInt8] = []
        var timedOut = false
        var stoppedEarly = false
        var open = [true, true]
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while open[0] || open[1] {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                timedOut = true
                break
            }
            var fds = [
                pollfd(fd: open[0] ? outPipe[0] : -1, events: Int16(POLLIN), revents: 0),
                pollfd(fd: open[1] ? errPipe[0] : -1, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, Int32(clamping: remaining.milliseconds + 1))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .errno(errno, "poll")
            }
            for i in 0..<2 where open[i] && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes {
                    read(i == 0 ? outPipe[0] : errPipe[0], $0.baseAddress, $0.count)
                }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    open[i] = false
                    continue
                }
                if i == 1 {
                    stderrTail.append(contentsOf: chunk[0..<n])
                    if stderrTail.count > 2 * Self.stderrKeptBytes {
                        stderrTail.removeFirst(stderrTail.count - Self.stderrKeptBytes)
                    }
                } else if !stoppedEarly {
                    let keepGoing = chunk.withUnsafeBufferPointer { consume(UnsafeBufferPointer(rebasing: $0[0..<n])) }
                    if !keepGoing {
                        stoppedEarly = true
                        kill(-pid, SIGKILL)
                    }
                }
            }
        }
        let termination = Self.reap(pid, deadline: deadline, timedOut: &timedOut)
        return ProcessOutcome(
            termination: termination, stdout: [], stderr: Array(stderrTail.suffix(Self.stderrKeptBytes)),
            stdoutTruncated: false, timedOut: timedOut, stoppedEarly: stoppedEarly)
    }

    /// Waits for the child until the deadline, then kills its process group and waits for good.
    private static func reap(_ pid: pid_t, deadline: ContinuousClock.Instant, timedOut: inout Bool)
        -> ProcessOutcome.Termination
    {
        var status: Int32 = 0
        if timedOut { kill(-pid, SIGKILL) }
        while true {
            let result = waitpid(pid, &status, timedOut ? 0 : WNOHANG)
            if result == pid { break }
            if result < 0 {
                if errno == EINTR { continue }
                return .exited(-1)
            }
            if ContinuousClock.now >= deadline {
                timedOut = true
                kill(-pid, SIGKILL)
                continue
            }
            usleep(2_000)
        }
        // Whatever the child left in its group (a pager, a helper) goes with it.
        kill(-pid, SIGKILL)
        if status & 0x7f == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }

    private static func spawn(_ path: String, _ request: ProcessRequest, stdout: Int32, stderr: Int32)
        throws(HostError) -> pid_t
    {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + request.arguments).map { strdup($0) } + [nil]
        let envp = request.environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw .errno(result, request.executable) }
        return pid
    }

    /// Finds an executable the way `execvp` would, but in the child's `PATH`, not the agent's.
    static func locate(_ executable: String, searchPath: String) throws(HostError) -> String {
        guard !executable.isEmpty, !executable.utf8.contains(0) else {
            throw HostError(.invalid, "empty or invalid executable name")
        }
        if executable.contains("/") {
            guard access(executable, X_OK) == 0 else { throw .errno(errno, executable) }
            return executable
        }
        for directory in searchPath.split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(executable)"
            var st = stat()
            if stat(candidate, &st) == 0, st.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        throw HostError(.notFound, "\(executable): not found in PATH \(searchPath)")
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Milliseconds with their fraction, for latency metrics.
    var fractionalMilliseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
}
