import Foundation

/// A throwaway PostgreSQL cluster: `initdb` in a temp dir, `pg_ctl start` on a free loopback port with
/// its socket in the same dir, password (scram) authentication over TCP and trust over the socket for
/// the test's own `psql`. PostgreSQL refuses to run as root, so under root (CI) every server command
/// runs as the `postgres` user (`setpriv`, argv only) and the directory is handed to it.
public final class PostgresCluster: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    public let encoding: String
    public var socketDirectory: String { directory.file("socket") }
    private let bin: String
    private var running = false

    /// The directory of `initdb`, `pg_ctl`, `psql`: the newest /usr/lib/postgresql/N/bin, else PATH.
    public static var binDirectory: String? {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted()
        if let newest = versions.last { return "/usr/lib/postgresql/\(newest)/bin" }
        for dir in ["/usr/local/bin", "/usr/bin"] where FileManager.default.isExecutableFile(atPath: dir + "/pg_ctl") {
            return dir
        }
        return nil
    }

    /// `settings` are `postgresql.conf` lines, e.g. `max_connections = 20`; `hba` lines go before
    /// initdb's in `pg_hba.conf` (the first matching line decides); `tls` turns on TLS with a
    /// self-signed P-256 certificate for `localhost` that no client trusts.
    public init(encoding: String = "UTF8", settings: [String] = [], hba: [String] = [], tls: Bool = false) throws {
        guard let bin = Self.binDirectory else {
            throw FixtureError("PostgreSQL is not installed (scripts/test.sh installs it)")
        }
        self.bin = bin
        self.encoding = encoding
        directory = try TemporaryDirectory("herd-postgres")
        port = try FreePort.next()
        try FileManager.default.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        try directory.write("pwfile", "postgres-secret\n")
        var settings = settings
        if tls {
            try Self.execute([
                "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-subj", "/CN=localhost", "-days", "2", "-keyout", directory.file("server.key"), "-out",
                directory.file("server.crt"),
            ])
            chmod(directory.file("server.key"), 0o600)
            settings += [
                "ssl = on", "ssl_cert_file = '\(directory.file("server.crt"))'",
                "ssl_key_file = '\(directory.file("server.key"))'",
            ]
        }
        if getuid() == 0 { try Self.handOver(directory.path) }
        try run(
            "initdb",
            [
                "-D", directory.file("data"), "-U", "postgres", "--pwfile", directory.file("pwfile"), "-E", encoding,
                "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
            ])
        let conf = [
            "port = \(port)", "listen_addresses = '127.0.0.1'", "unix_socket_directories = '\(socketDirectory)'",
            "fsync = off", "shared_buffers = 16MB", "max_connections = 20", "superuser_reserved_connections = 3",
        ]
        let hbaFile = directory.file("data/pg_hba.conf")
        let initdbRules = try String(contentsOfFile: hbaFile, encoding: .utf8)
        try (hba.map { $0 + "\n" }.joined() + initdbRules).write(toFile: hbaFile, atomically: false, encoding: .utf8)
        let file = FileHandle(forWritingAtPath: directory.file("data/postgresql.conf"))!
        file.seekToEndOfFile()
        file.write(Data(((conf + settings).joined(separator: "\n") + "\n").utf8))
        try file.close()
        try run(
            "pg_ctl", ["-D", directory.file("data"), "-l", directory.file("postgres.log"), "-w", "-t", "30", "start"])
        running = true
    }

    /// Runs SQL as the superuser over the socket and returns psql's unaligned output.
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") throws -> String {
        try run(
            "psql",
            [
                "-h", socketDirectory, "-p", String(port), "-U", "postgres", "-d", database, "-X", "-A", "-t", "-q",
                "-v", "ON_ERROR_STOP=1", "-c", statement,
            ])
    }

    /// A login role with a password and a database it owns, as Mastodon's setup makes them.
    public func createMastodonDatabase(
        user: String = "mastodon", password: String = "mastodon-secret",
        database: String = "mastodon_production"
    ) throws {
        try sql("CREATE ROLE \(user) LOGIN PASSWORD '\(password)'")
        try sql("CREATE DATABASE \(database) OWNER \(user) ENCODING '\(encoding)' TEMPLATE template0")
    }

    /// Stops the server and keeps its data: PostgreSQL down, as when its unit stops.
    public func halt() throws {
        guard running else { return }
        try run("pg_ctl", ["-D", directory.file("data"), "-m", "fast", "-w", "stop"])
        running = false
    }

    /// Starts a halted server again on the same port.
    public func resume() throws {
        guard !running else { return }
        try run(
            "pg_ctl", ["-D", directory.file("data"), "-l", directory.file("postgres.log"), "-w", "-t", "30", "start"])
        running = true
    }

    public func stop() {
        if running {
            _ = try? run("pg_ctl", ["-D", directory.file("data"), "-m", "immediate", "-w", "stop"])
            running = false
        }
        directory.remove()
    }

    deinit { stop() }

    /// Runs a PostgreSQL tool and returns its output. Not with Foundation's `Process`: it learns that a
    /// child exited when a socket the child inherited closes, and `pg_ctl start` leaves that socket to
    /// the server it starts, so `waitUntilExit` would wait for the server. Here the child gets stdin from
    /// /dev/null, one pipe for stdout and stderr, and no other descriptor; we read to EOF and reap it.
    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        var argv = ["\(bin)/\(tool)"] + arguments
        if getuid() == 0 {
            argv = ["/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"] + argv
        }
        return try Self.execute(argv)
    }

    @discardableResult
    private static func execute(_ argv: [String]) throws -> String {
        let tool = argv[0]
        let environment = ["PATH=/usr/bin:/bin", "LC_ALL=C", "PGPASSWORD=postgres-secret"]
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw FixtureError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        _ = spawnCloseFrom(&actions, 3)
        var pid: pid_t = 0
        let status = withCStrings(argv) { argvPointers in
            withCStrings(environment) { envPointers in
                posix_spawn(&pid, argv[0], &actions, nil, argvPointers, envPointers)
            }
        }
        close(fds[1])
        defer { close(fds[0]) }
        guard status == 0 else { throw FixtureError("\(tool): posix_spawn failed: \(status)") }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) < 0, errno == EINTR {}
        let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard exit == 0 else { throw FixtureError("\(tool) failed (status \(exit)): \(text)") }
        return text
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }

    private static func handOver(_ path: String) throws {
        guard let user = getpwnam("postgres") else {
            throw FixtureError(
                "running as root needs a postgres user to run PostgreSQL as (apt-get install postgresql)")
        }
        let uid = user.pointee.pw_uid
        let gid = user.pointee.pw_gid
        let enumerator = FileManager.default.enumerator(atPath: path)
        guard chown(path, uid, gid) == 0 else { throw FixtureError("chown \(path) failed") }
        while let item = enumerator?.nextObject() as? String {
            guard chown(path + "/" + item, uid, gid) == 0 else { throw FixtureError("chown \(item) failed") }
        }
    }
}

/// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, which Swift's Glibc module does not
/// export (it sits behind _GNU_SOURCE). Test support and the lab only: plain C arguments, called as C
/// would.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
public func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32
