import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport

/// A fixture host: `Fixtures/hosts/<scenario>/` holds `root/` (the host's files, `/proc` included),
/// `agent.conf`, `systemd/` (unit properties the systemctl stand-in serves), `bin/` (the commands on
/// the checks' PATH), `volumes.tsv` (statvfs answers), optional `modes.tsv` (`HOST_PATH MODE` applied
/// after copying, since git keeps no modes) and `expected.json` (the golden results).
///
/// `healthy/` is complete; every other scenario is an overlay on it: its directory holds only the files
/// that differ or are new, and `removed.txt` lists paths of the healthy host it lacks. The scenario is
/// assembled in a temp dir (`source`; symlinks made absolute so they still reach the stand-ins).
///
/// The root is copied to a temp dir and `@UID@`/`@GID@` in its `/etc/passwd` become the test's own
/// user, so ownership checks see the files as the mastodon user's.
struct FixtureHost {
    static let directory = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/hosts")
    static let standins = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/standins")
    static let clock = Date(timeIntervalSince1970: 1_745_291_500)
    static let serviceChecks = ["sidekiq", "postgresql", "mastodon.http"]

    static func scenarios() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    let name: String
    /// The scenario's directory in the repository (its overlay and `expected.json`).
    let directory: String
    /// The scenario assembled: healthy, then the overlay, minus `removed.txt`.
    let source: String
    let temporary: TemporaryDirectory
    var root: String { temporary.file("root") }

    init(_ name: String) throws {
        self.name = name
        directory = "\(Self.directory)/\(name)"
        temporary = try TemporaryDirectory("herd-host-\(name)")
        source = temporary.file("scenario")
        try Self.overlay("\(Self.directory)/healthy", onto: source)
        if name != "healthy" {
            try Self.overlay(directory, onto: source)
            let removed = (try? String(contentsOfFile: "\(directory)/removed.txt", encoding: .utf8)) ?? ""
            for line in removed.split(separator: "\n") where !line.hasPrefix("#") {
                try FileManager.default.removeItem(atPath: "\(source)/\(line)")
            }
            try Self.removeEmptyDirectories(source)
        }
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

    /// Copies `from` onto `to`, file by file, replacing what is there; relative symlinks become absolute.
    private static func overlay(_ from: String, onto to: String) throws {
        let files = FileManager.default
        guard let walk = files.enumerator(atPath: from) else { throw FixtureError("cannot read \(from)") }
        while let relative = walk.nextObject() as? String {
            if ["expected.json", "removed.txt"].contains(relative) { continue }
            let source = "\(from)/\(relative)"
            let target = "\(to)/\(relative)"
            if let link = try? files.destinationOfSymbolicLink(atPath: source) {
                let absolute =
                    link.hasPrefix("/")
                    ? link
                    : URL(fileURLWithPath: source).deletingLastPathComponent()
                        .appendingPathComponent(link).standardizedFileURL.path
                try files.createDirectory(
                    atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try? files.removeItem(atPath: target)
                try files.createSymbolicLink(atPath: target, withDestinationPath: absolute)
                continue
            }
            var isDirectory: ObjCBool = false
            _ = files.fileExists(atPath: source, isDirectory: &isDirectory)
            if isDirectory.boolValue {
                try files.createDirectory(atPath: target, withIntermediateDirectories: true)
            } else {
                try? files.removeItem(atPath: target)
                try files.copyItem(atPath: source, toPath: target)
            }
        }
    }

    /// Git keeps no empty directories, so a scenario that lost every file of one never had it.
    private static func removeEmptyDirectories(_ path: String) throws {
        let files = FileManager.default
        let subpaths = (files.subpaths(atPath: path) ?? []).sorted { $0.count > $1.count }
        for relative in subpaths {
            let full = "\(path)/\(relative)"
            var isDirectory: ObjCBool = false
            if files.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue,
                (try files.contentsOfDirectory(atPath: full)).isEmpty
            {
                try files.removeItem(atPath: full)
            }
        }
    }

    /// Results as the golden files hold them: the protocol's JSON, durations zeroed, and the paths of
    /// the assembled scenario, this temp dir's root and this checkout written as `$SCENARIO`, `$ROOT`
    /// and `$REPO`.
    func golden(_ results: [CheckResult]) throws -> [UInt8] {
        let zeroed = results.map {
            var r = $0; r.durationMilliseconds = 0; return r
        }
        let text = String(decoding: try JSONCodable.encode(zeroed, pretty: true), as: UTF8.self)
            .replacingOccurrences(of: source, with: "$SCENARIO")
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
