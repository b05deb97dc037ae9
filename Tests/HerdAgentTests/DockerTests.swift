import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdAgent

/// The agent on a Docker host, against a real Docker Engine (Debian's `docker.io`, started by the test
/// process: `DockerDaemon`): a compose project's containers read as the units they stand for — one
/// OOM-killed, one in a restart loop, one whose health check fails — and their logs read through the
/// Engine API, incrementally, by the real `herd-agent check`.
@Suite(.serialized) struct DockerTests {
    static func daemon() throws -> DockerDaemon { try DockerDaemon.shared.get() }

    static func units(_ daemon: DockerDaemon, project: String) -> DockerUnits {
        DockerUnits(
            engine: DockerEngine(socketPath: daemon.socketPath), project: project,
            services: AgentConfiguration().dockerServices)
    }

    @Test func composeContainersReadAsTheUnitsTheyStandFor() async throws {
        let daemon = try Self.daemon()
        let project = "herdunits\(getpid())"
        defer { daemon.removeProject(project) }
        try daemon.compose(project: project, service: "web", "sleep 600")
        // Sidekiq's container dies of its memory limit (exit 137, OOMKilled).
        try daemon.compose(
            project: project, service: "sidekiq", options: ["--memory", "16m", "--memory-swap", "16m"],
            #"x=$(head -c 67108864 /dev/zero | tr "\0" a); echo survived"#)
        // Streaming exits at once and Docker restarts it, again and again.
        try daemon.compose(project: project, service: "streaming", options: ["--restart", "always"], "exit 1")
        // PostgreSQL runs, but its health check fails.
        try daemon.compose(
            project: project, service: "db",
            options: ["--health-cmd", "false", "--health-interval", "1s", "--health-retries", "1"], "sleep 600")
        // A container of another project is not this instance's.
        let other = "herdother\(getpid())"
        defer { daemon.removeProject(other) }
        try daemon.compose(project: other, service: "sidekiq", "sleep 600")

        let reader = Self.units(daemon, project: project)
        var states: [UnitState] = []
        for _ in 0..<100 {
            states = try reader.show(
                [
                    "mastodon-web.service", "mastodon-sidekiq.service", "mastodon-streaming@docker.service",
                    "postgresql@docker.service", "redis-server.service",
                ], timeout: .seconds(10))
            if states[1].result == "oom-kill", (states[2].restarts ?? 0) >= 1, states[3].subState == "unhealthy" {
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(states[0].activeState == "active" && states[0].subState == "running" && (states[0].mainPID ?? 0) > 0)
        #expect(states[1].activeState == "failed" && states[1].result == "oom-kill" && states[1].execMainStatus == 137)
        #expect((states[2].restarts ?? 0) >= 1, "\(states[2])")
        #expect(states[3].activeState == "active" && states[3].subState == "unhealthy")
        #expect(states[4].loadState == "not-found")
        #expect(
            try reader.listUnits(matching: "mastodon-streaming@*.service", timeout: .seconds(10)) == [
                "mastodon-streaming@docker.service"
            ])

        // The services check reads them as it reads systemd: Sidekiq down and OOM-killed is critical, with
        // the metric the diagnosis rules read (`mastodon-sidekiq.active` 0).
        let outcome = ServicesCheck.evaluate(
            states,
            mastodonUnits: [
                "mastodon-web.service": "mastodon-web", "mastodon-sidekiq.service": "mastodon-sidekiq",
                "mastodon-streaming@docker.service": "mastodon-streaming@docker",
            ],
            notes: [], memory: CheckMemory(), streamingPattern: "mastodon-streaming@*.service")
        #expect(outcome.status == .critical)
        #expect(outcome.metrics["mastodon-sidekiq.active"] == 0 && outcome.metrics["mastodon-web.active"] == 1)
        #expect(outcome.findings.map(\.category) == [.oomKill])
        #expect(outcome.summary.contains("unhealthy"), "\(outcome.summary)")
    }

    /// `instances.discover_compose`: each compose project on the engine is an instance, its directory
    /// (the working-directory label compose sets) its live directory, its name its `docker.project`.
    @Test func composeProjectsAreDiscoveredAsInstances() async throws {
        let daemon = try Self.daemon()
        let root = try TemporaryDirectory("herd-compose")
        defer { root.remove() }
        let projects = ["herdone\(getpid())", "herdtwo\(getpid())", "herdbare\(getpid())"]
        defer { for project in projects { daemon.removeProject(project) } }
        for (index, project) in projects.enumerated() {
            try root.write(
                "\(project)/.env.production", index < 2 ? "LOCAL_DOMAIN=\(project).example\n" : "DB_HOST=db\n")
            try daemon.compose(
                project: project, service: "web",
                options: ["--label", "com.docker.compose.project.working_dir=\(root.file(project))"], "sleep 600")
        }
        try daemon.compose(project: "herdlost\(getpid())", service: "web", "sleep 600")
        defer { daemon.removeProject("herdlost\(getpid())") }
        let configuration = try AgentConfiguration.parse(
            """
            state_dir = /var/lib/herd-agent
            docker.socket = \(daemon.socketPath)
            instances.discover_compose = true
            logs.files = /var/log/%i.log
            """, source: "x")
        let resolved = try HostInstances.resolve(configuration)
        let ours = resolved.instances.filter { $0.domain?.hasSuffix("\(getpid()).example") == true }
        #expect(ours.map(\.domain) == ["\(projects[0]).example", "\(projects[1]).example"])
        #expect(ours.map(\.configuration.dockerProject) == Array(projects.prefix(2)))
        #expect(ours.map(\.configuration.mastodonLiveDirectory) == projects.prefix(2).map(root.file))
        #expect(ours.first?.configuration.logFiles == ["/var/log/\(projects[0]).log"])
        #expect(resolved.notes.contains { $0.contains("\(projects[2]): no LOCAL_DOMAIN") }, "\(resolved.notes)")
        #expect(resolved.notes.contains { $0.contains("herdlost\(getpid()): no working directory label") })
        // Without the socket there is nothing to ask.
        var bare = configuration
        bare.dockerSocket = nil
        #expect(try HostInstances.resolve(bare).notes == ["instances.discover_compose needs docker.socket"])
    }

    @Test func herdAgentCheckReadsContainersAndTheirLogsIncrementally() async throws {
        let daemon = try Self.daemon()
        let project = "herdlogs\(getpid())"
        defer { daemon.removeProject(project) }
        // Puma's log: requests on stdout, then the pool running dry on stderr, then a line every 200 ms.
        try daemon.compose(
            project: project, service: "web",
            #"""
            echo 'I, [2026-12-04T06:00:00.000000 #1]  INFO -- : [a1] Completed 200 OK in 12ms'
            echo 'E, [2026-12-04T06:00:01.000000 #1] ERROR -- : [a2] ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use)' >&2
            i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.2; done
            """#)
        try daemon.compose(project: project, service: "sidekiq", "sleep 600")
        try daemon.compose(project: project, service: "streaming", "sleep 600")
        let root = try TemporaryDirectory("herd-docker-agent")
        defer { root.remove() }
        try root.write(
            "agent.conf",
            """
            docker.socket = \(daemon.socketPath)
            docker.project = \(project)
            logs.journal = yes
            state_dir = \(root.file("state"))

            """)
        try await Task.sleep(for: .seconds(1))
        func check() throws -> [CheckResult] {
            let answer = try runExecutable(
                try BuiltProduct.path("herd-agent"),
                [
                    "check", "--config", root.file("agent.conf"), "--only", "services", "logs", "--json",
                    "--state-dir", root.file("state"),
                ])
            #expect(answer.status == 0, "\(answer.output)")
            struct Cycle: Decodable { var results: [CheckResult] }
            return try JSONCodable.decode(Cycle.self, from: Array(answer.output.utf8)).results
        }
        let first = try check()
        let services = try #require(first.first { $0.checkID == "services" })
        #expect(services.status == .ok, "\(services.summary)")
        #expect(services.metrics["mastodon-web.active"] == 1)
        let logs = try #require(first.first { $0.checkID == "logs" })
        #expect(logs.findings.contains { $0.category == .dbPoolExhausted }, "\(logs)")
        #expect(logs.status == .critical, "\(logs.summary)")

        // The next cycle reads on from where this one stopped: the pool error is not counted again.
        try await Task.sleep(for: .seconds(1))
        let second = try check()
        let again = try #require(second.first { $0.checkID == "logs" })
        #expect(!again.findings.contains { $0.category == .dbPoolExhausted }, "\(again)")
        #expect(again.status == .ok, "\(again.summary)")
    }

    /// The logs reader alone: each line once across reads, stdout and stderr told apart.
    @Test func logLinesAreReadOnceAcrossCycles() async throws {
        let daemon = try Self.daemon()
        let project = "herdonce\(getpid())"
        defer { daemon.removeProject(project) }
        try daemon.compose(
            project: project, service: "sidekiq",
            #"i=0; while true; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); sleep 0.1; done"#)
        let logs = DockerLogs(units: Self.units(daemon, project: project), kernel: NoJournal())
        var cursor: String?
        var lines: [(priority: Int?, text: String)] = []
        for _ in 0..<5 {
            try await Task.sleep(for: .milliseconds(400))
            let batch = try logs.read(
                JournalQuery(
                    units: ["mastodon-sidekiq.service"], afterCursor: cursor, since: Date().addingTimeInterval(-60),
                    maxBytes: 1 << 20, timeout: .seconds(10))
            ) { entry in
                lines.append((entry.priority, String(decoding: entry.message, as: UTF8.self)))
                #expect(entry.unit == "mastodon-sidekiq.service")
            }
            cursor = batch.lastCursor ?? cursor
        }
        let out = lines.filter { $0.priority == 6 }.map(\.text)
        let err = lines.filter { $0.priority == 3 }.map(\.text)
        #expect(out.count >= 10)
        #expect(out == (0..<out.count).map { "out \($0)" })
        #expect(err.allSatisfy { $0.hasPrefix("err ") } && Set(err).count == err.count)
    }

    /// An engine that does not answer as one: each is a typed error naming the socket or the request,
    /// within the deadline, never a hang or a crash.
    @Test func aMissingStallingOrGarbledEngineIsATypedError() async throws {
        let root = try TemporaryDirectory("herd-docker-bad")
        defer { root.remove() }
        func read(_ socket: String) -> HostError? {
            do {
                _ = try DockerUnits(
                    engine: DockerEngine(socketPath: socket), project: "mastodon",
                    services: AgentConfiguration().dockerServices
                ).show(["mastodon-web.service"], timeout: .seconds(1))
                return nil
            } catch { return error }
        }
        #expect(read(root.file("missing.sock"))?.kind == .notFound)
        try root.write("plain-file", "not a socket")
        #expect(read(root.file("plain-file")) != nil)
        for (mode, kind) in [
            ("stall", HostError.Kind.timedOut), ("garbage", .invalid), ("not-found", .notFound),
            ("bad-json", .invalid), ("bad-chunk", .invalid),
        ] {
            let socket = root.file("\(mode).sock")
            let server = Process()
            server.executableURL = URL(
                fileURLWithPath: ProcessInfo.processInfo.environment["HERD_PYTHON"] ?? "/usr/bin/python3")
            server.arguments = [
                RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/docker-misbehaving.py"), socket, mode,
            ]
            server.standardOutput = FileHandle.nullDevice
            server.standardError = FileHandle.nullDevice
            try server.run()
            defer {
                kill(server.processIdentifier, SIGKILL)
                server.waitUntilExit()
            }
            for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(20_000) }
            let started = ContinuousClock.now
            let error = read(socket)
            #expect(error?.kind == kind, "\(mode): \(String(describing: error))")
            #expect(ContinuousClock.now - started < .seconds(3), "\(mode)")
            #expect(error.map { !$0.description.contains("\u{1b}") } ?? true)
        }
    }
}

/// No kernel journal: these tests read containers only.
private struct NoJournal: JournalReader {
    func read(_ query: JournalQuery, entry: (JournalEntry) -> Void) throws(HostError) -> JournalBatch {
        throw HostError(.notFound, "no journal here")
    }
}
