import Foundation
import HerdTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One simulated Mastodon instance: a puma stand-in behind its own real nginx, a host tree (the live
/// directory with `.env.production` and the application log, systemd units served by the recording
/// systemctl, the host's own remediation policy), its own PostgreSQL cluster, its Redis database, and
/// the agents that watch it (`LabPlacement`: its own, the lab's shared host's, or one per part).
final class LabInstance: @unchecked Sendable {
    let name: String
    let index: Int
    let directory: String
    let endpoint: String
    let standIn: MastodonStandIn
    let nginx: NginxServer
    let certificateAuthority: TestCertificateAuthority
    let postgres: PostgresCluster
    let placement: LabPlacement
    /// Its own agents: one, a split instance's three (its parts' hosts, database first), or none on
    /// the shared host (the supervisor runs that one).
    var agents: [LabAgent] = []
    var agentBinary: String?
    var redis: RedisServer?
    var holders: [Process] = []
    /// The faults injected and not healed.
    var faults: Set<LabFault> = []
    /// upstream-502: puma's routes drop connections on every other tick.
    var dropping = false
    /// load-5xx: traffic ticks since the fault, for its waves.
    var loadTicks = 0
    static let pumaRoutes = ["/health", "/api/v1/instance", "/api/v1/timelines/home", "/api/v1/notifications"]
    static let streamingHealth = "/api/v1/streaming/health"
    var tmpfs = false
    var requests = 0
    /// systemd's NRestarts of mastodon-web (crash-loop).
    var webRestarts = 0
    /// `.env.production` as mastodon:setup wrote it, and what a fault changes in it.
    var baseEnv: [(String, String)] = []
    var envOverrides: [String: String] = [:]
    /// Where REDIS_URL points while redis-down holds: a port nothing listens on.
    var deadRedisPort = 0

    var live: String { directory + "/live" }
    /// Where its host's tree is: its own directory, or the shared host's.
    var hostDirectory: String {
        if case .shared(let host) = placement { return host }
        return directory
    }
    var units: String { hostDirectory + "/bin/units" }
    var agentConfig: String { directory + "/agent.conf" }
    var media: String { live + "/public/system" }
    var applicationLog: String { live + "/log/production.log" }
    var kernelLog: String { hostDirectory + "/kern.log" }
    var bin: String { hostDirectory + "/bin" }

    /// Its units' names: the plain ones on a host of its own, template instances on the shared host.
    enum Part { case web, sidekiq, streaming }
    func unit(_ part: Part) -> String {
        let key: String? = if case .shared = placement { shortName } else { nil }
        return switch part {
        case .web: key.map { "mastodon-web@\($0).service" } ?? "mastodon-web.service"
        case .sidekiq: key.map { "mastodon-sidekiq@\($0).service" } ?? "mastodon-sidekiq.service"
        case .streaming: key.map { "mastodon-streaming-\($0)@4000.service" } ?? "mastodon-streaming@4000.service"
        }
    }
    var shortName: String { String(name.prefix { $0 != "." }) }
    var tlsFile: String { directory + "/tls.pem" }

    /// The site's certificate and key in one file, replaced in one rename: a handshake reads the old
    /// pair or the new, never half of each.
    static func writeCertificate(
        _ authority: TestCertificateAuthority, name: String, daysLeft: Double, to path: String
    ) throws {
        let now = Date()
        let issued = try authority.issue(
            names: [name], notBefore: now.addingTimeInterval(-86_400),
            notAfter: now.addingTimeInterval(daysLeft * 86_400))
        let pem = [issued.certificate, issued.key].map { $0.hasSuffix("\n") ? $0 : $0 + "\n" }.joined()
        try pem.write(toFile: path, atomically: true, encoding: .utf8)
    }

    init(name: String, index: Int, directory: String, endpoint: String, placement: LabPlacement = .own) throws {
        self.name = name
        self.index = index
        self.directory = directory
        self.endpoint = endpoint
        self.placement = placement
        standIn = try MastodonStandIn()
        // Two sites on one nginx: plain HTTP for the lab's traffic, TLS for the agent's public probes
        // with a certificate from the instance's own CA, read at every handshake (cert-expiring).
        certificateAuthority = try TestCertificateAuthority(commonName: "herd-lab \(name) CA")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.writeCertificate(certificateAuthority, name: name, daysLeft: 90, to: directory + "/tls.pem")
        nginx = try NginxServer(
            sites: [
                .init(backend: standIn.port, streaming: standIn.port),
                .init(
                    backend: standIn.port, streaming: standIn.port,
                    tls: (directory + "/tls.pem", directory + "/tls.pem"),
                    certificatePerHandshake: true),
            ], readTimeoutSeconds: 2)
        postgres = try PostgresCluster(settings: ["max_connections = 40"])
    }

    /// A host's tree: the recording systemctl and journalctl with its `units/` (the healthy host's
    /// supporting units), the media tools, the kernel log, and its remediation policy.
    static func prepareHost(_ host: String, trust: String) throws {
        let files = FileManager.default
        for path in [host + "/bin/units", host + "/policy", host + "/state"] {
            try files.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let standins = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/standins")
        try files.copyItem(atPath: standins + "/system/systemctl", toPath: host + "/bin/systemctl")
        try files.copyItem(atPath: standins + "/journal/journalctl", toPath: host + "/bin/journalctl")
        let healthy = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/hosts/healthy/systemd")
        for unit in try files.contentsOfDirectory(atPath: healthy) where !unit.hasPrefix("mastodon-") {
            try files.copyItem(atPath: healthy + "/" + unit, toPath: host + "/bin/units/" + unit)
        }
        // The media tools, as Debian's packages answer -version.
        for tool in ["ffmpeg", "ffprobe", "convert", "vips"] {
            try files.copyItem(atPath: standins + "/" + tool, toPath: host + "/bin/" + tool)
        }
        try "".write(toFile: host + "/kern.log", atomically: true, encoding: .utf8)
        try trust.appending("approvals.routine = 1\n").write(
            toFile: host + "/policy/trust.conf", atomically: true, encoding: .utf8)
        try """
        restart_service = web, sidekiq, streaming, nginx
        restart_service.limit = 5/1h
        media_remove.days = 1-30
        media_remove.limit = 5/1d

        """.write(toFile: host + "/policy/allowlist.conf", atomically: true, encoding: .utf8)
    }

    func prepare(redis: RedisServer, trust: String) throws {
        self.redis = redis
        let files = FileManager.default
        for path in [live + "/log", media, live + "/lib/mastodon"] {
            try files.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        if placement == .own || placement == .split { try Self.prepareHost(directory, trust: trust) }
        // Its Mastodon units, as the healthy host's, under their names on this host.
        let healthy = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/hosts/healthy/systemd")
        for (part, file) in [
            (Part.web, "mastodon-web.service"), (.sidekiq, "mastodon-sidekiq.service"),
            (.streaming, "mastodon-streaming@4000.service"),
        ] {
            let text = try String(contentsOfFile: healthy + "/" + file, encoding: .utf8)
            try text.replacingOccurrences(of: "Id=\(file)", with: "Id=\(unit(part))").write(
                toFile: units + "/" + unit(part), atomically: true, encoding: .utf8)
        }
        let password = "lab-\(shortName)-secret"
        try postgres.createMastodonDatabase(
            user: "mastodon_\(shortName)", password: password, database: "mastodon_\(shortName)")
        deadRedisPort = try FreePort.next()
        baseEnv = [
            ("LOCAL_DOMAIN", name), ("DB_HOST", "127.0.0.1"), ("DB_PORT", String(postgres.port)),
            ("DB_NAME", "mastodon_\(shortName)"), ("DB_USER", "mastodon_\(shortName)"), ("DB_PASS", password),
            ("DB_POOL", "5"), ("REDIS_URL", "redis://127.0.0.1:\(redis.port)/\(index)"), ("S3_ENABLED", "true"),
            ("S3_BUCKET", "files"), ("S3_ENDPOINT", endpoint),
        ]
        try writeEnv()
        try certificateAuthority.certificatePEM.write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
        // Mastodon 4.3.2's version file, as the agent reads it.
        try files.copyItem(
            atPath: RepositoryPaths.path(
                "Tests/HerdAgentTests/Fixtures/hosts/healthy/root/home/mastodon/live/lib/mastodon/version.rb"),
            toPath: live + "/lib/mastodon/version.rb")
        try "".write(toFile: applicationLog, atomically: true, encoding: .utf8)
        switch placement {
        case .own:
            try (Self.hostSettings(host: directory) + instanceSettings(checks: Self.checks)).write(
                toFile: agentConfig, atomically: true, encoding: .utf8)
            agents = [LabAgent(config: agentConfig, log: directory + "/agent.log")]
        case .split:
            // One host per part, each with its own state and name; they share this tree (one machine).
            for part in LabPlacement.parts {
                let host = directory + "/hosts/" + part.host
                try files.createDirectory(atPath: host + "/state", withIntermediateDirectories: true)
                try
                    (Self.hostSettings(host: directory, state: host + "/state")
                    + "role = \(part.role)\nhostname = \(part.host)\n"
                    + instanceSettings(checks: part.checks, disk: part.role == "db" ? "postgresql=\(directory)" : nil))
                    .write(
                        toFile: host + "/agent.conf", atomically: true, encoding: .utf8)
                agents.append(LabAgent(config: host + "/agent.conf", log: host + "/agent.log"))
            }
        case .shared:
            break  // the supervisor writes the shared host's configuration, a section per instance
        }
    }

    /// The checks every lab agent runs.
    static let checks =
        "services, sidekiq, postgresql, logs, nginx.error_log, nginx.access_log, mastodon.http, disk, oom, media"

    /// The host's settings of a lab agent's configuration (those a `[DOMAIN]` section may not hold).
    static func hostSettings(host: String, state: String? = nil) -> String {
        """
        interval = 5
        state_dir = \(state ?? host + "/state")
        command_path = \(host)/bin:/usr/bin:/bin
        checks.timeout = 4000ms
        logs.journal = false
        kernel_log = \(host)/kern.log
        remediation.allowlist = \(host)/policy/allowlist.conf
        remediation.trust = \(host)/policy/trust.conf
        remediation.poll = 30s

        """
    }

    /// This instance's own settings: the same in its own configuration and in a shared host's section.
    func instanceSettings(checks: String?, disk: String? = nil) -> String {
        let units =
            placement == .own
            ? "units.supporting = nginx.service\n" : ""
        return """
            mastodon.live_dir = \(live)
            mastodon.user = \(String(cString: getpwuid(getuid()).pointee.pw_name))
            \(checks.map { "checks.enabled = \($0)\n" } ?? "")logs.files = \(applicationLog)
            \(units)nginx.error_log = \(nginx.errorLog)
            nginx.access_log = \(nginx.accessLog)
            disk.paths = \(disk ?? "media=" + media)
            http.web_url = http://127.0.0.1:\(standIn.port)
            http.public_url = https://\(name):\(nginx.ports[1])
            http.public_address = 127.0.0.1
            http.ca_file = \(directory)/ca.pem
            http.streaming_urls = http://127.0.0.1:\(standIn.port)
            http.latency_warning = 2000ms
            tag.lab = herd

            """
    }

    /// `.env.production`: what setup wrote, with the faults' changes.
    func writeEnv() throws {
        var lines = ["# Generated by the Herd lab (as mastodon:setup would)"]
        var seen = Set<String>()
        for (key, value) in baseEnv {
            lines.append("\(key)=\(envOverrides[key] ?? value)")
            seen.insert(key)
        }
        for (key, value) in envOverrides.sorted(by: { $0.key < $1.key }) where !seen.contains(key) {
            lines.append("\(key)=\(value)")
        }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: live + "/.env.production", atomically: true, encoding: .utf8)
    }

    func startAgents(binary: String) throws {
        agentBinary = binary
        for agent in agents { try agent.start(binary: binary) }
    }

    var sidekiqActive: Bool {
        ((try? String(contentsOfFile: units + "/" + unit(.sidekiq), encoding: .utf8)) ?? "")
            .contains("ActiveState=active")
    }

    /// A few requests through nginx (the access log's traffic) and the lines Rails logs for them.
    func traffic() {
        if faults.contains(.upstream502) {
            dropping.toggle()
            for route in Self.pumaRoutes { standIn.setFault(route, dropping ? .drop : nil) }
        }
        if faults.contains(.crashLoop) {
            webRestarts += 1
            try? setUnitProperty(unit(.web), "NRestarts", String(webRestarts))
        }
        // load-5xx: traffic ramps from 1 to 13 times the usual over 40 s, then drops; past 5 times,
        // puma has no worker left for what comes over it, and those requests (the notifications) get
        // Rails' 503 — errors that grow with load past a capacity.
        var paths = ["/api/v1/timelines/home", "/api/v1/notifications"]
        if faults.contains(.load5xx) {
            let load = 1 + loadTicks % 20 * 12 / 19
            loadTicks += 1
            standIn.setFault("/api/v1/notifications", .temporary503)
            paths =
                Array(repeating: "/api/v1/timelines/home", count: min(load, 5) * 2)
                + Array(repeating: "/api/v1/notifications", count: max(0, load - 5) * 2)
        }
        let stamp = ISO8601DateFormatter().string(from: Date())
        var lines = ""
        for path in paths {
            requests += 1
            let status = Self.get("http://127.0.0.1:\(nginx.ports[0])\(path)")
            lines +=
                "I, [\(stamp) #27]  INFO -- : [lab-\(requests)] method=GET path=\(path) format=json "
                + "controller=Api::V1::LabController action=index status=\(status) duration=12.34 view=1.00 db=2.00\n"
        }
        // What Rails logs for a post while a fault holds (lograge, as Mastodon configures it).
        let error: String? =
            if faults.contains(.pgDown) {
                "PG::ConnectionBad: connection to server at \"127.0.0.1\", port \(postgres.port) failed: Connection refused"
            } else if faults.contains(.redisDown) {
                "Redis::CannotConnectError: Error connecting to Redis on 127.0.0.1:\(deadRedisPort) (Errno::ECONNREFUSED)"
            } else if faults.contains(.railsPool) {
                "ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use"
            } else if faults.contains(.post500) {
                "NoMethodError: undefined method `id' for nil"
            } else {
                nil
            }
        if let error {
            requests += 1
            lines +=
                "I, [\(stamp) #27]  INFO -- : [lab-\(requests)] method=POST path=/api/v1/statuses format=json "
                + "controller=Api::V1::StatusesController action=create status=500 error='\(error)' duration=5012.00 view=0.00 db=0.00\n"
        }
        if faults.contains(.objectStorage) {
            lines +=
                "E, [\(stamp) #27] ERROR -- : [lab-\(requests)] Storage server error: Aws::S3::Errors::ServiceUnavailable (Please reduce your request rate.)\n"
        }
        if let handle = FileHandle(forWritingAtPath: applicationLog) {
            handle.seekToEndOfFile()
            handle.write(Data(lines.utf8))
            try? handle.close()
        }
    }

    static func get(_ url: String) -> Int {
        final class Status: @unchecked Sendable { var code = 502 }
        let status = Status()
        let done = DispatchSemaphore(value: 0)
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 3
        URLSession.shared.dataTask(with: request) { _, response, _ in
            status.code = (response as? HTTPURLResponse)?.statusCode ?? 502
            done.signal()
        }.resume()
        done.wait()
        return status.code
    }

    /// `Dec  2 09:58:34`, as the kernel log's syslog prefix.
    static func kernelStamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM d HH:mm:ss"
        let text = formatter.string(from: date)
        // syslog pads a one-digit day with a space.
        let parts = text.split(separator: " ", maxSplits: 1)
        return parts.count == 2 && parts[1].prefix { $0 != " " }.count == 1 ? "\(parts[0])  \(parts[1])" : text
    }

    func append(_ text: String, to path: String) throws {
        guard let handle = FileHandle(forWritingAtPath: path) else { throw LabError("cannot open \(path)") }
        handle.seekToEndOfFile()
        handle.write(Data(text.utf8))
        try handle.close()
    }

    func setUnit(_ unit: String, active: Bool) throws {
        let properties =
            active
            ? [("ActiveState", "active"), ("SubState", "running"), ("Result", "success")]
            : [("ActiveState", "failed"), ("SubState", "failed"), ("Result", "exit-code")]
        for (name, value) in properties { try setUnitProperty(unit, name, value) }
    }

    /// One `NAME=value` of a unit, as the recording systemctl serves it.
    func setUnitProperty(_ unit: String, _ name: String, _ value: String) throws {
        let path = units + "/" + unit
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines.removeAll { $0.hasPrefix(name + "=") }
        lines.append("\(name)=\(value)")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    func stop() {
        agentBinary = nil
        heal()
        for agent in agents { agent.stop() }
        nginx.stop()
        standIn.stop()
        postgres.stop()
    }
}
