import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

/// The shapes providers run, in the lab: every instance watched by one agent on one host
/// (`--shared-agent`: template units, one kernel log), and one instance split over a database, a web
/// and a Sidekiq host with an agent each (`--split`). Each fault alone opens one incident on the right
/// instance with the expected cause, and a remediation goes to the agent that can run it.
@Suite(.serialized) struct LabTopologyTests {
    static func run(_ product: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try BuiltProduct.run(product, arguments)
    }

    @Test func aSharedHostAndASplitInstanceAreDiagnosedAndRemediatedPerInstance() async throws {
        let parent = try TemporaryDirectory("herd-lab-topology")
        defer { parent.remove() }
        chmod(parent.path, 0o755)
        let dir = parent.file("lab")
        let up = try Self.run("herd-lab", ["up", "--dir", dir, "--instances", "3", "--shared-agent", "--split"])
        try #require(up.status == 0 && up.output.contains("split.lab.example"), "\(up.output)")
        defer { _ = try? Self.run("herd-lab", ["down", "--dir", dir]) }
        func herdctl(_ arguments: [String], as who: String = "admin") throws -> (status: Int32, output: String) {
            try Self.run("herdctl", arguments + ["--config", dir + "/operators/\(who)/config"])
        }
        // One agent process for the three; the split instance's three hosts each with their role.
        let agents = try JSONCodable.decode(
            OperatorAPI.Agents.self, from: Data(try herdctl(["agents", "list", "--json"]).output.utf8)
        ).agents
        #expect(agents.filter { $0.role == "all" }.count == 3)
        #expect(
            Set(agents.filter { $0.instance == "split.lab.example" }.map { "\($0.hostname) \($0.role)" }) == [
                "db-1 db", "web-1 web", "sidekiq-1 sidekiq",
            ])
        let running = LabTests.processes(mentioning: dir + "/host/agent.conf").filter { $0.contains("herd-agent run") }
        #expect(running.count == 1, "\(running)")

        // The scenario suite on each shape.
        let root = getuid() == 0 ? ["disk-full"] : []
        for (instance, faults) in [
            ("bravo", ["sidekiq-dead", "oom-kill", "puma-down", "streaming-down", "pg-down", "object-storage"] + root),
            ("split", ["pg-down", "redis-down", "puma-down", "oom-kill", "agent-silent"] + root),
        ] {
            let suite = try Self.run(
                "herd-lab",
                [
                    "evaluate", "--dir", dir, "--instance", instance, "--faults", faults.joined(separator: ","),
                    "--settle", "10s",
                ])
            #expect(suite.status == 0, "\(suite.output)")
            for fault in faults { #expect(suite.output.contains("\(fault): right"), "\(instance): \(suite.output)") }
        }

        // Sidekiq dies on bravo (the shared host) and on the split instance's Sidekiq host: each incident's
        // remediation, proposed by admin and approved by bob, restarts that instance's own unit, on the
        // host that runs it, and resolves it.
        for (instance, unitLog, unit, host) in [
            ("bravo", dir + "/host/bin/units/calls.log", "mastodon-sidekiq@bravo.service", "vm"),
            (
                "split", dir + "/instances/split.lab.example/bin/units/calls.log", "mastodon-sidekiq.service",
                "sidekiq-1"
            ),
        ] {
            let domain = instance + ".lab.example"
            #expect(try Self.run("herd-lab", ["break", "--dir", dir, instance, "sidekiq-dead"]).status == 0)
            var incident: OperatorAPI.IncidentRow?
            try await waitFor(seconds: 90) {
                incident = try? JSONCodable.decode(
                    OperatorAPI.Incidents.self, from: Data(try herdctl(["incidents", "--open", "--json"]).output.utf8)
                ).incidents.first { $0.instance == domain && $0.diagnosis?.rule == "sidekiq_down" }
                return incident != nil
            }
            let open = try #require(incident)
            let proposed = try herdctl(["incident", "remediate", "\(open.id)", "--json", "--preview-wait", "0s"])
            let remediation = try JSONCodable.decode(
                OperatorAPI.RemediationDetail.self, from: Data(proposed.output.utf8)
            ).remediation
            let target = try #require(agents.first { $0.id == remediation.agentId })
            #expect(target.instance == domain && (host == "vm" || target.hostname == host), "\(target)")
            let approved = try herdctl(["remediate", "approve", remediation.id, "--yes"], as: "bob")
            #expect(approved.status == 0, "\(approved.output)")
            try await waitFor(seconds: 90) {
                let detail = try? JSONCodable.decode(
                    OperatorAPI.IncidentDetail.self,
                    from: Data(try herdctl(["incident", "show", "\(open.id)", "--json"]).output.utf8))
                let shown = try? JSONCodable.decode(
                    OperatorAPI.RemediationDetail.self,
                    from: Data(try herdctl(["remediate", "show", remediation.id, "--json"]).output.utf8)
                ).remediation
                return detail?.incident.state == "resolved" && shown?.state == "succeeded"
            }
            let calls = try String(contentsOfFile: unitLog, encoding: .utf8)
            #expect(calls.contains("restart -- \(unit)"), "\(calls)")
            _ = try Self.run("herd-lab", ["heal", "--dir", dir, "all"])
        }

        // One instance's identity revoked on the shared host: that instance stops; the agent and the
        // others go on.
        let alpha = try #require(agents.first { $0.instance == "alpha.lab.example" })
        #expect(try herdctl(["agents", "revoke", alpha.id]).status == 0)
        try await Task.sleep(for: .seconds(15))
        let after = try JSONCodable.decode(
            OperatorAPI.Agents.self, from: Data(try herdctl(["agents", "list", "--json"]).output.utf8)
        ).agents
        let bravo = try #require(after.first { $0.instance == "bravo.lab.example" })
        #expect(bravo.lastReportAt.map { Date().timeIntervalSince($0) < 12 } == true, "\(bravo)")
        #expect(
            LabTests.processes(mentioning: dir + "/host/agent.conf").contains { $0.contains("herd-agent run") })
        let log = try String(contentsOfFile: dir + "/host/agent.log", encoding: .utf8)
        #expect(log.contains("the host's other instances go on"), "\(log.suffix(2000))")
    }
}
