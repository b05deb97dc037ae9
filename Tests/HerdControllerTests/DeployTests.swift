import Foundation
import HerdTestSupport
import Testing

/// deploy/: the install scripts into a temporary root (what they lay down, with which modes; run twice
/// changes nothing the host owns; uninstall and purge), and the units as systemd itself reads them.
@Suite(.serialized) struct DeployTests {
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try runExecutable(executable, arguments)
    }

    static func mode(_ path: String) -> mode_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : nil
    }

    @Test func installAgentLaysDownTheHostAndKeepsWhatRootChanged() throws {
        let root = try TemporaryDirectory("herd-deploy-agent")
        defer { root.remove() }
        let script = RepositoryPaths.path("deploy/install-agent.sh")
        let binary = try BuiltProduct.path("herd-agent")
        let first = try Self.run("/bin/bash", [script, "--destdir", root.path, "--binary", binary])
        #expect(first.status == 0 && first.output.contains("herd-agent enroll"), "\(first.output)")
        for (path, mode) in [
            ("/usr/local/bin/herd-agent", 0o755), ("/etc/herd", 0o755), ("/etc/herd/agent.conf", 0o644),
            ("/etc/herd/allowlist.conf", 0o644), ("/etc/herd/trust.conf", 0o644), ("/var/lib/herd-agent", 0o700),
            ("/etc/systemd/system/herd-agent.service", 0o644), ("/etc/systemd/system/herd-tootctl@.service", 0o644),
            ("/etc/polkit-1/rules.d/50-herd-agent.rules", 0o644),
        ] {
            #expect(Self.mode(root.path + path) == mode_t(mode), "\(path)")
        }
        // Nobody is trusted until root says so.
        let trust = try String(contentsOfFile: root.file("etc/herd/trust.conf"), encoding: .utf8)
        #expect(!trust.contains("\noperator.") && trust.contains("approvals.routine = 1"))

        // Again, after root edited the configuration: the binary and units refreshed, the host's files kept.
        try "interval = 30\n".write(toFile: root.file("etc/herd/agent.conf"), atomically: true, encoding: .utf8)
        #expect(try Self.run("/bin/bash", [script, "--destdir", root.path, "--binary", binary]).status == 0)
        #expect(try String(contentsOfFile: root.file("etc/herd/agent.conf"), encoding: .utf8) == "interval = 30\n")

        #expect(try Self.run("/bin/bash", [script, "--destdir", root.path, "--uninstall"]).status == 0)
        #expect(Self.mode(root.file("usr/local/bin/herd-agent")) == nil)
        #expect(Self.mode(root.file("etc/polkit-1/rules.d/50-herd-agent.rules")) == nil)
        #expect(Self.mode(root.file("etc/herd/agent.conf")) != nil)
        #expect(try Self.run("/bin/bash", [script, "--destdir", root.path, "--uninstall", "--purge"]).status == 0)
        #expect(Self.mode(root.file("etc/herd")) == nil && Self.mode(root.file("var/lib/herd-agent")) == nil)
        #expect(try Self.run("/bin/bash", [script, "--bogus"]).status == 2)
        #expect(try Self.run("/bin/bash", [script, "--destdir", root.path, "--binary", "/nonexistent"]).status == 1)
    }

    @Test func installControllerInitialisesOnceAndUpgradesInPlace() throws {
        let root = try TemporaryDirectory("herd-deploy-controller")
        defer { root.remove() }
        let script = RepositoryPaths.path("deploy/install-controller.sh")
        let bin = URL(fileURLWithPath: try BuiltProduct.path("herd-controller")).deletingLastPathComponent().path
        let arguments = [script, "--destdir", root.path, "--bin-dir", bin, "--herdctl-dir", root.file("herdctl")]
        let first = try Self.run(
            "/bin/bash", arguments + ["--listen", "127.0.0.1:9443", "--server-name", "herd.example"])
        #expect(first.status == 0 && first.output.contains("systemctl enable --now herd-controller"), "\(first.output)")
        let ca = try String(contentsOfFile: root.file("var/lib/herd-controller/ca/ca.pem"), encoding: .utf8)
        let configuration = try String(
            contentsOfFile: root.file("var/lib/herd-controller/controller.conf"), encoding: .utf8)
        #expect(configuration.contains("listen = 127.0.0.1:9443") && configuration.contains("herd.example"))
        #expect(Self.mode(root.file("herdctl/signing-key.pem")) == 0o600)
        #expect(Self.mode(root.file("usr/local/bin/herdctl")) == 0o755)
        // An upgrade never re-creates the CA (every agent pins it).
        #expect(try Self.run("/bin/bash", arguments).status == 0)
        #expect(try String(contentsOfFile: root.file("var/lib/herd-controller/ca/ca.pem"), encoding: .utf8) == ca)
        #expect(try Self.run("/bin/bash", [script, "--destdir", root.path, "--uninstall"]).status == 0)
        #expect(Self.mode(root.file("usr/local/bin/herd-controller")) == nil)
        #expect(Self.mode(root.file("var/lib/herd-controller/ca/ca.pem")) != nil)
    }

    /// A second replica on the same PostgreSQL store: the first one's configuration, CA and server
    /// certificate copied, no init; refused for a data directory whose store is SQLite.
    @Test func installControllerAddsAReplicaOfAPostgreSQLController() throws {
        let root = try TemporaryDirectory("herd-deploy-replica")
        defer { root.remove() }
        let script = RepositoryPaths.path("deploy/install-controller.sh")
        let bin = URL(fileURLWithPath: try BuiltProduct.path("herd-controller")).deletingLastPathComponent().path
        let first = root.file("first")
        let url = try TestPostgres.newDatabase()
        let installed = try Self.run(
            "/bin/bash",
            [
                script, "--destdir", first, "--bin-dir", bin, "--herdctl-dir", root.file("herdctl"), "--store", url,
                "--server-name", "herd.example",
            ])
        #expect(installed.status == 0, "\(installed.output)")
        let data = first + "/var/lib/herd-controller"
        #expect(try String(contentsOfFile: data + "/controller.conf", encoding: .utf8).contains("store = \(url)"))
        #expect(!FileManager.default.fileExists(atPath: data + "/herd.sqlite"))

        let second = root.file("second")
        let replica = try Self.run(
            "/bin/bash", [script, "--destdir", second, "--bin-dir", bin, "--replica-of", data])
        #expect(replica.status == 0, "\(replica.output)")
        let copied = second + "/var/lib/herd-controller"
        for file in ["controller.conf", "ca/ca.pem", "ca/ca-key.pem", "tls/server.pem", "tls/server-key.pem"] {
            #expect(
                try String(contentsOfFile: copied + "/" + file, encoding: .utf8)
                    == String(contentsOfFile: data + "/" + file, encoding: .utf8), "\(file)")
        }
        #expect(Self.mode(copied + "/ca/ca-key.pem") == 0o600 && Self.mode(copied) == 0o700)

        let sqlite = root.file("sqlite")
        #expect(
            try Self.run(
                "/bin/bash", [script, "--destdir", sqlite, "--bin-dir", bin, "--herdctl-dir", root.file("h2")]
            ).status == 0)
        let refused = try Self.run(
            "/bin/bash",
            [
                script, "--destdir", root.file("third"), "--bin-dir", bin, "--replica-of",
                sqlite + "/var/lib/herd-controller",
            ])
        #expect(refused.status == 1 && refused.output.contains("share a PostgreSQL store"), "\(refused.output)")
    }

    /// The units as systemd reads them (`systemd-analyze verify`: unknown keys, bad values, missing
    /// binaries), with the binaries pointed at the ones just built.
    @Test func systemdAcceptsTheUnits() throws {
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            Issue.record("systemd-analyze is missing: the units cannot be checked")
            return
        }
        let directory = try TemporaryDirectory("herd-units")
        defer { directory.remove() }
        var units: [String] = []
        for name in ["herd-agent.service", "herd-controller.service", "herd-tootctl@.service"] {
            let text = try String(contentsOfFile: RepositoryPaths.path("deploy/systemd/" + name), encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/herd-agent", with: try BuiltProduct.path("herd-agent"))
                .replacingOccurrences(
                    of: "/usr/local/bin/herd-controller", with: try BuiltProduct.path("herd-controller"))
            try directory.write(name, text)
            units.append(directory.file(name))
        }
        let verified = try Self.run(analyze, ["verify", "--man=no"] + units)
        #expect(verified.status == 0 && verified.output.isEmpty, "\(verified.output)")
    }
}
