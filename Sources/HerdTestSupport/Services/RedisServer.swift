import Foundation

/// Debian's redis-server started by a test: loopback, a free port, a unix socket and its data in a temp
/// dir, no persistence. `command` drives it with `redis-cli` (argv, no shell), so the data a test lays
/// out is written by Redis's own client, not by the client under test. Async tests use `start` and
/// `command`, which block a thread of their own rather than a cooperative one.
public final class RedisServer: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    public var socketPath: String { directory.file("redis.sock") }
    public let password: String?
    /// The TLS port when started with `tls` (the plain port stays open for `redis-cli`).
    public let tlsPort: Int?
    private let process: Process

    public static var executable: String? {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// `password` sets `requirepass` (the default user's password); `users` are extra ACL rules,
    /// e.g. `["sidekiq on >secret ~* +@all"]`; `tls` (PEM paths) opens a TLS port as well, which
    /// asks for no client certificate.
    public init(
        password: String? = nil, users: [String] = [], tls: (certificate: String, key: String, ca: String)? = nil
    ) throws {
        guard let executable = Self.executable else {
            throw FixtureError("redis-server is not installed (scripts/test.sh installs it)")
        }
        directory = try TemporaryDirectory("herd-redis")
        port = try FreePort.next()
        self.password = password
        var arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--dir", directory.path, "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--unixsocket", directory.file("redis.sock"),
            "--unixsocketperm", "700", "--logfile", directory.file("redis.log"), "--databases", "32",
        ]
        if let password { arguments += ["--requirepass", password] }
        if let tls {
            let tlsPort = try FreePort.next()
            self.tlsPort = tlsPort
            arguments += [
                "--tls-port", String(tlsPort), "--tls-cert-file", tls.certificate, "--tls-key-file", tls.key,
                "--tls-ca-cert-file", tls.ca, "--tls-auth-clients", "no",
            ]
        } else {
            tlsPort = nil
        }
        for user in users { arguments += ["--user"] + user.split(separator: " ").map(String.init) }
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if (try? commandBlocking(["PING"])) == "PONG" { return }
            guard process.isRunning else { break }
            usleep(25_000)
        }
        stop()
        throw FixtureError(
            "redis-server did not start: \((try? String(contentsOfFile: directory.file("redis.log"), encoding: .utf8)) ?? "")"
        )
    }

    public static func start(password: String? = nil, users: [String] = []) async throws -> RedisServer {
        try await offThread { try RedisServer(password: password, users: users) }
    }

    /// Runs one command through `redis-cli` against database `database` and returns its raw output
    /// without the trailing newline.
    @discardableResult
    public func command(_ arguments: [String], database: Int = 0) async throws -> String {
        try await offThread { try self.commandBlocking(arguments, database: database) }
    }

    @discardableResult
    public func commandBlocking(_ arguments: [String], database: Int = 0) throws -> String {
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        var argv = ["-h", "127.0.0.1", "-p", String(port), "-n", String(database), "--raw"]
        if let password { argv += ["--no-auth-warning", "-a", password] }
        cli.arguments = argv + arguments
        let output = Pipe()
        cli.standardOutput = output
        cli.standardError = FileHandle.nullDevice
        try cli.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        cli.waitUntilExit()
        guard cli.terminationStatus == 0 else { throw FixtureError("redis-cli \(arguments) failed") }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    public var isRunning: Bool { process.isRunning }

    public func stop() {
        // Started from a test thread, redis-server inherits its blocked signals and may never see
        // SIGTERM; it holds nothing worth saving: kill it.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        directory.remove()
    }

    deinit { stop() }
}
