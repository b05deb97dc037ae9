import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdAgent

/// One agent for the instances of a host (`[DOMAIN]` sections and `instances.discover`), and the role of
/// a split instance's host: what the configuration accepts, what each instance ends up with, and the
/// host checks' results as each instance gets them.
@Suite struct HostInstancesTests {
    /// A host tree with three live directories (one without a domain) under `root`.
    static func host() throws -> TemporaryDirectory {
        let root = try TemporaryDirectory("herd-hosts")
        for (user, domain) in [("alpha", "alpha.example"), ("bravo", "Bravo.Example"), ("broken", nil)] {
            try root.write(
                "home/\(user)/live/.env.production",
                domain.map { "LOCAL_DOMAIN=\($0)\nDB_NAME=\(user)\n" } ?? "DB_NAME=x\n")
        }
        try root.write("home/nobody/notes.txt", "not a live directory")
        return root
    }

    @Test func sectionsAndDiscoveryMakeOneInstanceEachWithItsOwnStateAndUnits() throws {
        let root = try Self.host()
        defer { root.remove() }
        let text = """
            state_dir = /var/lib/herd-agent
            host_root = \(root.path)
            instances.discover = /home/*/live
            units.web = mastodon-web@%i.service
            units.sidekiq = mastodon-sidekiq@%i.service
            nginx.access_log = /var/log/nginx/%i.access.log
            nginx.error_log = /var/log/nginx/error.log

            [bravo.example]
            units.sidekiq = sidekiq-bravo.service
            tag.plan = premium

            [charlie.example]
            mastodon.live_dir = /srv/charlie/live
            """
        let configuration = try AgentConfiguration.parse(text, source: "agent.conf")
        #expect(configuration.watchesSeveral)
        #expect(try AgentConfiguration.parse(configuration.render(), source: "again") == configuration)
        let resolved = try HostInstances.resolve(configuration)
        let byDomain = Dictionary(uniqueKeysWithValues: resolved.instances.map { ($0.domain ?? "-", $0) })
        #expect(Set(byDomain.keys) == ["alpha.example", "bravo.example", "charlie.example"])
        let alpha = try #require(byDomain["alpha.example"]).configuration
        #expect(alpha.mastodonLiveDirectory == "/home/alpha/live")
        #expect(alpha.webUnit == "mastodon-web@alpha.service" && alpha.sidekiqUnit == "mastodon-sidekiq@alpha.service")
        #expect(alpha.nginxAccessLog == "/var/log/nginx/alpha.access.log")
        #expect(alpha.stateDirectory == "/var/lib/herd-agent/instances/alpha.example")
        // The host checks run once for all of them; the error log they share says nothing of which.
        #expect(!alpha.isEnabled("oom") && !alpha.isEnabled("resources") && alpha.isEnabled("disk"))
        #expect(!alpha.isEnabled("nginx.error_log") && alpha.isEnabled("nginx.access_log"))
        let bravo = try #require(byDomain["bravo.example"]).configuration
        #expect(bravo.sidekiqUnit == "sidekiq-bravo.service" && bravo.webUnit == "mastodon-web@bravo.service")
        #expect(bravo.tags == ["plan": "premium"])
        let charlie = try #require(byDomain["charlie.example"]).configuration
        #expect(
            charlie.mastodonLiveDirectory == "/srv/charlie/live" && charlie.webUnit == "mastodon-web@charlie.service")
        #expect(resolved.notes.contains { $0.contains("/home/broken/live: no LOCAL_DOMAIN") })
        #expect(resolved.notes.contains { $0.contains("nginx.error_log is off for 3 instances") })
        let host = HostInstances.hostConfiguration(configuration)
        #expect(host.enabledChecks == ["oom", "resources"] && host.stateDirectory == "/var/lib/herd-agent/host")
    }

    @Test func oneInstanceWithoutSectionsIsTheConfigurationItself() throws {
        let configuration = try AgentConfiguration.parse("interval = 30s", source: "x")
        let resolved = try HostInstances.resolve(configuration)
        #expect(resolved.instances.count == 1 && resolved.instances[0].domain == nil)
        #expect(resolved.instances[0].configuration == configuration)
        #expect(configuration.isEnabled("oom"))
    }

    @Test(arguments: [
        (
            "[alpha.example]\ninterval = 30s",
            "x:2: interval is the host's, not one instance's: set it before the first section"
        ),
        ("[alpha.example]\nrole = db", "x:2: role is the host's, not one instance's: set it before the first section"),
        (
            "[Alpha Example]\nmastodon.live_dir = /a",
            "x:2: [Alpha Example] is not an instance name (a lowercase DNS name)"
        ),
        ("[a.example]\nunits.web = x", "x:2: unit names end in .service"),
        ("[a.example]\nx = 1\n[a.example]\ny = 2", "x:3: section [a.example] appears twice"),
        ("[a.example]\nlogs.files = /a\nlogs.files = /b", "x:3: logs.files is set twice"),
        ("[]\nx = 1", "x:1: empty section name"),
        ("role = leader", "x:1: role is one of all, db, redis, web, sidekiq, streaming"),
        ("hostname = db 1", "x:1: expected a host name or an IP address"),
        ("hostname = .db", "x:1: hostname must start with a label of a-z, 0-9, '-' or '_'"),
        ("instances.discover = home/*/live", "x:1: expected an absolute path"),
    ])
    func badSectionsAndRolesAreRefusedWithTheirLine(_ text: String, _ message: String) {
        #expect(throws: ConfigurationError(message)) { try AgentConfiguration.parse(text, source: "x") }
    }

    @Test func aPartsHostWatchesItsOwnChecksAndUnits() throws {
        let db = try AgentConfiguration.parse("role = db\nhostname = db-1.fra1.example.net", source: "x")
        #expect(db.isEnabled("postgresql") && db.isEnabled("disk") && !db.isEnabled("sidekiq") && !db.isEnabled("logs"))
        #expect(db.supportingUnits == ["postgresql@*.service"])
        let web = try AgentConfiguration.parse("role = web\nchecks.enabled = logs, disk", source: "x")
        #expect(web.isEnabled("logs") && !web.isEnabled("mastodon.http"))
        #expect(web.supportingUnits == ["nginx.service"])
        let sidekiq = try AgentConfiguration.parse(
            "role = sidekiq\nunits.supporting = redis-server.service", source: "x")
        #expect(sidekiq.isEnabled("sidekiq") && !sidekiq.isEnabled("nginx.access_log"))
        #expect(sidekiq.supportingUnits == ["redis-server.service"])
        #expect(try AgentConfiguration.parse(db.render(), source: "again") == db)
        #expect(HostFactsReader.read(db).hostname == "db-1.fra1.example.net")
    }

    /// An OOM kill in one instance's unit is that instance's incident, not its neighbours'; a kill in a
    /// unit no instance owns (the shared PostgreSQL) is everyone's.
    @Test func anOOMKillGoesToTheInstanceWhoseUnitItHit() {
        let oom = CheckResult(
            checkID: "oom", status: .critical, summary: "2 OOM kills", durationMilliseconds: 1,
            metrics: ["kills": 2, "lines": 10],
            findings: [
                Finding(category: .oomKill, signature: "OOM killed bundle (mastodon-sidekiq@alpha.service)", count: 1),
                Finding(
                    category: .oomKill, signature: "OOM killed node (mastodon-streaming-bravo@4000.service)", count: 1),
            ])
        let memory = CheckResult(checkID: "resources", status: .ok, summary: "fine", durationMilliseconds: 1)
        let units = [
            ["mastodon-web@alpha.service", "mastodon-sidekiq@alpha.service", "mastodon-streaming-alpha@*.service"],
            ["mastodon-web@bravo.service", "mastodon-sidekiq@bravo.service", "mastodon-streaming-bravo@*.service"],
            [
                "mastodon-web@charlie.service", "mastodon-sidekiq@charlie.service",
                "mastodon-streaming-charlie@*.service",
            ],
        ]
        let alpha = HostChecks.share([oom, memory], with: units[0], among: units)
        #expect(alpha[1] == memory)
        #expect(alpha[0].status == .critical && alpha[0].findings.map(\.signature) == [oom.findings[0].signature])
        #expect(alpha[0].metrics["kills"] == 1 && alpha[0].summary.contains("1 in other instances' units"))
        let bravo = HostChecks.share([oom], with: units[1], among: units)[0]
        #expect(bravo.findings.map(\.signature) == [oom.findings[1].signature])
        let charlie = HostChecks.share([oom], with: units[2], among: units)[0]
        #expect(charlie.status == .ok && charlie.findings.isEmpty && charlie.metrics["kills"] == 0)
        #expect(charlie.summary == "no OOM kills of this instance's processes (2 in other instances' units)")
        let shared = Finding(
            category: .oomKill, signature: "OOM killed postgres (postgresql@15-main.service)", count: 1)
        var pg = oom
        pg.findings = [shared]
        #expect(HostChecks.share([pg], with: units[2], among: units)[0] == pg)
    }
}

/// The verbs on a multi-instance or part's host, through the binary: what they refuse and say.
@Suite struct HostInstancesCommandTests {
    @Test func theVerbsNameTheInstanceTheyNeedAndARoleCannotChangeAfterEnrollment() throws {
        let dir = try TemporaryDirectory("herd-multi")
        defer { dir.remove() }
        try dir.write(
            "several.conf",
            """
            state_dir = \(dir.path)/state
            [a.example]
            mastodon.live_dir = \(dir.path)/a
            [b.example]
            mastodon.live_dir = \(dir.path)/b

            """)
        let several = ["--config", dir.file("several.conf")]
        let enroll = ["enroll", "--controller", "https://127.0.0.1:9", "--token", "t", "--ca-fingerprint", "00"]
        var answer = try BuiltProduct.run("herd-agent", enroll + several)
        #expect(answer.status == 1 && answer.output.contains("this agent watches several instances: pass --instance"))
        answer = try BuiltProduct.run("herd-agent", enroll + several + ["--instance", "c.example"])
        #expect(
            answer.status == 1
                && answer.output.contains(
                    "c.example is not among the instances this agent watches: a.example, b.example"),
            "\(answer.output)")
        answer = try BuiltProduct.run("herd-agent", ["run", "--once"] + several)
        #expect(
            answer.status == 1 && answer.output.contains("a.example: ")
                && answer.output.contains("(herd-agent enroll --instance a.example)"), "\(answer.output)")
        answer = try BuiltProduct.run("herd-agent", ["check", "--json"] + several)
        #expect(answer.status == 1 && answer.output.contains("--json checks one instance: give --instance"))
        answer = try BuiltProduct.run("herd-agent", ["check", "--instance", "z.example"] + several)
        #expect(answer.status == 1 && answer.output.contains("z.example is not among the instances configured"))
        answer = try BuiltProduct.run("herd-agent", ["check", "--only", "mastodon.config"] + several)
        #expect(answer.status == 0 && answer.output.contains("== a.example") && answer.output.contains("== b.example"))

        // Enrolled as the database host, configured as a web host: it will not run.
        let identity = dir.file("part/identity")
        try FileManager.default.createDirectory(
            atPath: identity, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try dir.write(
            "part/identity/enrollment.conf",
            "controller = https://127.0.0.1:9\nagent_id = abc\ninstance = big.example\nstate = accepted\nrole = db\n")
        chmod(dir.file("part/identity/enrollment.conf"), 0o600)
        try dir.write("part/identity/certificate.pem", "unused")
        try dir.write("part.conf", "state_dir = \(dir.path)/part\nrole = web\n")
        answer = try BuiltProduct.run("herd-agent", ["run", "--once", "--config", dir.file("part.conf")])
        #expect(
            answer.status == 1
                && answer.output.contains("agent abc enrolled with role db but the configuration says web"),
            "\(answer.output)")
    }
}
