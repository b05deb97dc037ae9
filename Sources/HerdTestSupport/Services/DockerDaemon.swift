import Foundation

/// Debian's Docker Engine (`docker.io`) started by a test: its data, exec root and API socket in a temp
/// dir, no bridge or iptables (containers get `--network none`), the `vfs` storage driver (no overlay
/// mounts needed). The one image is imported from a root file system holding only the static busybox
/// (`busybox-static`), since no registry is reachable. Root only, as dockerd is. `docker` drives it with
/// the Docker CLI (argv, no shell), so the containers a test lays out are made by Docker's own client,
/// not by the code under test.
public final class DockerDaemon: @unchecked Sendable {
    public static let image = "herd-busybox:1"
    public let directory: TemporaryDirectory
    public var socketPath: String { directory.file("docker.sock") }
    private let process: Process

    /// One daemon for the whole test process, started on first use and stopped when it exits.
    public static let shared: Result<DockerDaemon, any Error> = Result {
        let daemon = try DockerDaemon()
        atexit { try? DockerDaemon.shared.get().stop() }
        return daemon
    }

    public init() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/dockerd") else {
            throw FixtureError("dockerd is not installed (scripts/test.sh installs docker.io)")
        }
        guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else {
            throw FixtureError("/bin/busybox is missing (scripts/test.sh installs busybox-static)")
        }
        guard getuid() == 0 else { throw FixtureError("dockerd needs root") }
        // A short name: containerd's sockets live under the exec root, and unix socket paths are short.
        directory = try TemporaryDirectory("hd")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/dockerd")
        process.arguments = [
            "--data-root", directory.file("data"), "--exec-root", directory.file("x"), "--pidfile",
            directory.file("docker.pid"), "--host", "unix://" + directory.file("docker.sock"), "--iptables=false",
            "--ip6tables=false", "--bridge=none", "--storage-driver=vfs", "--log-level=warn",
        ]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = log
        process.standardError = log
        try process.run()
        for _ in 0..<300 {
            if FileManager.default.fileExists(atPath: socketPath), (try? docker(["version"])) != nil { break }
            guard process.isRunning else { throw FixtureError("dockerd exited at start") }
            usleep(50_000)
        }
        _ = try docker(["version"])
        // The image: a root file system of the static busybox and the applets the tests run.
        let root = directory.file("rootfs")
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: root + "/bin/busybox")
        for applet in ["sh", "sleep", "echo", "cat", "head", "tr", "true", "false"] {
            try FileManager.default.createSymbolicLink(atPath: root + "/bin/" + applet, withDestinationPath: "busybox")
        }
        let tar = try runExecutable("/bin/tar", ["-C", root, "-cf", directory.file("rootfs.tar"), "."])
        guard tar.status == 0 else { throw FixtureError("tar: \(tar.output)") }
        _ = try docker(["import", directory.file("rootfs.tar"), Self.image])
    }

    /// Runs the Docker CLI against this daemon; its output, or an error with it.
    @discardableResult
    public func docker(_ arguments: [String]) throws -> String {
        let answer = try runExecutable("/usr/bin/docker", ["--host", "unix://" + socketPath] + arguments)
        guard answer.status == 0 else {
            throw FixtureError("docker \(arguments.first ?? ""): \(answer.output)")
        }
        return answer.output
    }

    /// Starts a container of compose project `project`'s service `service` (the labels compose sets),
    /// running `command` under busybox's sh; `options` are further `docker run` flags.
    @discardableResult
    public func compose(project: String, service: String, options: [String] = [], _ command: String) throws
        -> String
    {
        try docker(
            [
                "run", "--detach", "--network", "none", "--name", "\(project)-\(service)-1", "--label",
                "com.docker.compose.project=\(project)", "--label", "com.docker.compose.service=\(service)",
            ] + options + [Self.image, "/bin/sh", "-c", command]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Removes every container of `project`.
    public func removeProject(_ project: String) {
        let ids =
            (try? docker(["ps", "--all", "--quiet", "--filter", "label=com.docker.compose.project=\(project)"]))?
            .split(separator: "\n").map(String.init) ?? []
        if !ids.isEmpty { _ = try? docker(["rm", "--force"] + ids) }
    }

    public func stop() {
        let ids = (try? docker(["ps", "--all", "--quiet"]))?.split(separator: "\n").map(String.init) ?? []
        if !ids.isEmpty { _ = try? docker(["rm", "--force"] + ids) }
        if process.isRunning {
            process.terminate()
            for _ in 0..<200 where process.isRunning { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        // dockerd mounts its data root on itself (a private mount) and leaves it mounted when it exits.
        _ = try? runExecutable("/bin/umount", ["--lazy", directory.file("data")])
        directory.remove()
    }
}
