import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport

/// A fixture host: `Fixtures/hosts/<scenario>/` holds `root/` (the host's files, `/proc` included),
/// `agent.conf`, `systemd/` (unit properties the systemctl stand-in serves), `bin/` (the commands on
/// the checks' PATH), `volumes.tsv` (statvfs answers), optional `modes.tsv` (`HOST_PATH MODE` applied
/// after copying, since git keeps no modes) and `expected.json` (the golden results).
///
/// The root is copied to a temp dir and `@UID@`/`@GID@` in its `/etc/passwd` become the test's own
/// user, so ownership checks see the files as the mastodon user's.
struct FixtureHost {
    static let directory = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/hosts")
    static let standins = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/standins")
    static let clock = Date(timeIntervalSince1970: 1_745_291_500)
    static let serviceChecks = ["sidekiq", "postgresql"]

    static func scenarios() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    let name: String
    let source: String
    let temporary: TemporaryDirectory
    var root: String { temporary.file("root") }

    init(_ name: String) throws {
        self.name = name
        source = "\(Self.directory)/\(name)"
        temporary = try TemporaryDirectory("herd-host-\(name)")
        try FileManager.default.copyItem(atPath: "\(source)/root", toPath: root)
        let passwd = "\(root)/etc/passwd"
        if let text = try? String(contentsOfFile: passwd, encoding: .utf8) {
            try text.replacingOccurrences(of: "@UID@", with: String(getuid()))
                .replacingOccurrences(of: "@GID@", with: String(getgid()))
                .write(toFile: passwd, atomically: true, encoding: .utf8)
        }
        if let modes = try? String(contentsOfFile: "\(source)/modes.tsv", encoding: .utf8) {
            for line in modes.split(separator: "\n") where !line.hasPrefix("#") {
                let fields = line.split(separator: "\t")
                guard fields.count == 2, let mode = mode_t(fields[1], radix: 8) else {
                    throw FixtureError("\(name)/modes.tsv: bad line \(line)")
                }
                guard chmod(root + fields[0], mode) == 0 else { throw FixtureError("chmod \(fields[0]) failed") }
            }
        }
    }

    func configuration() throws -> AgentConfiguration {
        let text = try String(contentsOfFile: "\(source)/agent.conf", encoding: .utf8)
        var configuration = try AgentConfiguration.parse(text, source: "\(name)/agent.conf")
        configuration.hostRoot = root
        configuration.commandPath = "\(source)/bin:\(Self.standins)/system"
        configuration.stateDirectory = temporary.file("state")
        // Checks that talk to services (Redis, PostgreSQL, HTTP) are tested against real ones that
        // their tests start; a fixture tree has none.
        configuration.disabledChecks += Self.serviceChecks
        return configuration
    }

    func surfaces(_ configuration: AgentConfiguration) throws -> HostSurfaces {
        var host = HostSurfaces.live(configuration, extraEnvironment: ["HERD_FIXTURE_SYSTEMD": "\(source)/systemd"])
        host.volumes = try TableVolumeReader(path: "\(source)/volumes.tsv")
        host.clock = FixedClock(Self.clock)
        return host
    }

    func runner(_ configuration: AgentConfiguration? = nil, store: any CheckMemoryStore = EphemeralMemoryStore())
        throws -> CheckRunner
    {
        let configuration = try configuration ?? self.configuration()
        return CheckRunner(
            checks: try CheckRegistry.enabled(by: configuration), host: try surfaces(configuration),
            configuration: configuration, store: store, signatures: SignatureMatcher(table: .builtIn))
    }

    func remove() { temporary.remove() }

    /// Results as the golden files hold them: the protocol's JSON, durations zeroed, and the paths of
    /// this checkout and this temp dir written as `$REPO` and `$ROOT`.
    func golden(_ results: [CheckResult]) -> [UInt8] {
        var w = JSONWriter(pretty: true)
        w.array(
            results.map {
                var r = $0; r.durationMilliseconds = 0; return r
            })
        let text = String(decoding: w.bytes, as: UTF8.self)
            .replacingOccurrences(of: root, with: "$ROOT")
            .replacingOccurrences(of: RepositoryPaths.root, with: "$REPO")
        return Array(text.utf8) + [0x0A]
    }
}

/// statvfs answers from a table: the longest host-path prefix wins.
struct TableVolumeReader: VolumeReader {
    let rows: [(prefix: String, usage: VolumeUsage)]

    init(path: String) throws {
        var rows: [(String, VolumeUsage)] = []
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#")
        {
            let f = line.split(separator: "\t")
            guard f.count == 6, let id = UInt64(f[1]), let total = UInt64(f[2]), let available = UInt64(f[3]),
                let inodes = UInt64(f[4]), let free = UInt64(f[5])
            else { throw FixtureError("\(path): bad line \(line)") }
            rows.append(
                (
                    String(f[0]),
                    VolumeUsage(
                        filesystemID: id, totalBytes: total, availableBytes: available, totalInodes: inodes,
                        availableInodes: free)
                ))
        }
        self.rows = rows.sorted { $0.0.count > $1.0.count }
    }

    func usage(of hostPath: String) throws(HostError) -> VolumeUsage {
        guard
            let row = rows.first(where: {
                hostPath == $0.prefix || hostPath.hasPrefix($0.prefix == "/" ? "/" : $0.prefix + "/")
            })
        else { throw HostError(.notFound, "\(hostPath): no volume in the fixture") }
        return row.usage
    }
}
