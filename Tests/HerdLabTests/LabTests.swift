import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

/// The lab as people use it, through its binary: up → break → detected → remediated (proposed by
/// one operator, approved by the other, executed by the agent) → resolved → down, asserting on
/// herdctl's JSON; after `down` no process of the lab and nothing of its directory remains.
@Suite(.serialized) struct LabTests {
    static func run(_ product: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        try BuiltProduct.run(product, arguments)
    }

    /// Processes whose command line, working directory or open files mention `text` (redis-server
    /// renames itself and keeps no file open in its directory).
    static func processes(mentioning text: String) -> [String] {
        let files = FileManager.default
        let entries = (try? files.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid -> String? in
            guard Int32(pid) != nil, Int32(pid) != getpid(), let data = files.contents(atPath: "/proc/\(pid)/cmdline")
            else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            let open =
                ((try? files.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap {
                    try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)")
                } + [try? files.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")].compactMap { $0 }
            return line.contains(text) || open.contains { $0.contains(text) } ? "\(pid): \(line)" : nil
        }
    }

    @Test func upBreakDetectRemediateResolveDown() async throws {
        let parent = try TemporaryDirectory("herd-lab-test")
        defer { parent.remove() }
        chmod(parent.path, 0o755)  // PostgreSQL runs as postgres under root and must reach the lab's directory
        let dir = parent.file("lab")
        let up = try Self.run("herd-lab", ["up", "--dir", dir, "--instances", "3"])
        try #require(up.status == 0 && up.output.contains("alpha.lab.example"), "\(up.output)")
        defer { _ = try? Self.run("herd-lab", ["down", "--dir", dir]) }
        let admin = ["--config", dir + "/operators/admin/config"]
        func herdctl(_ arguments: [String], as config: [String]? = nil) throws -> (status: Int32, output: String) {
            try Self.run("herdctl", arguments + (config ?? admin))
        }
        #expect(try Self.run("herd-lab", ["up", "--dir", dir]).status != 0)  // one lab per directory
        #expect(try Self.run("herd-lab", ["break", "--dir", dir, "alpha", "meteor"]).status != 0)
        #expect(try Self.run("herd-lab", ["break", "--dir", dir, "zulu", "sidekiq-dead"]).status != 0)

        let broken = try Self.run("herd-lab", ["break", "--dir", dir, "alpha", "sidekiq-dead"])
        #expect(broken.status == 0 && broken.output.contains("alpha.lab.example"), "\(broken.output)")
        var incident: OperatorAPI.IncidentRow?
        try await waitFor(seconds: 90) {
            let answer = try herdctl(["incidents", "--open", "--json"])
            incident = try? JSONCodable.decode(OperatorAPI.Incidents.self, from: Data(answer.output.utf8))
                .incidents.first { $0.instance == "alpha.lab.example" && $0.diagnosis?.rule == "sidekiq_down" }
            return incident != nil
        }
        let open = try #require(incident)
        let status = try herdctl(["status", "--json"])
        let rows = try WireCoding.decode(OperatorAPI.Fleet.self, from: Array(status.output.utf8), maxBytes: 1 << 20)
        #expect(rows.instances.first { $0.instance == "alpha.lab.example" }?.state == "critical", "\(status.output)")

        let proposed = try herdctl(["incident", "remediate", "\(open.id)", "--json", "--preview-wait", "0s"])
        let remediation = try JSONCodable.decode(
            OperatorAPI.RemediationDetail.self, from: Data(proposed.output.utf8)
        ).remediation
        // Bob approves in the dashboard, in a real browser: the pages show the lab fleet and the fault,
        // and the click signs on this machine with his key.
        try approveInTheBrowser(
            lab: dir, incident: open.id, remediation: remediation.id, action: remediation.action)
        // The incident may resolve (as the remediation's) on a regular report before the command's
        // result, which waits for Sidekiq to settle, arrives: wait for both.
        var shown: OperatorAPI.Remediation?
        try await waitFor(seconds: 90) {
            let answer = try herdctl(["incident", "show", "\(open.id)", "--json"])
            let detail = try? JSONCodable.decode(
                OperatorAPI.IncidentDetail.self, from: Data(answer.output.utf8))
            shown = try? JSONCodable.decode(
                OperatorAPI.RemediationDetail.self,
                from: Data(try herdctl(["remediate", "show", remediation.id, "--json"]).output.utf8)
            ).remediation
            return detail?.incident.state == "resolved" && detail?.incident.resolution == "remediation"
                && shown?.state != "dispatched"
        }
        let done = try #require(shown)
        #expect(done.state == "succeeded" && done.verification.allSatisfy { $0.status == "ok" }, "\(done)")

        // The supervisor dies without cleaning up: `down` still finds and stops everything it started.
        let supervisor = try #require(Int32(try String(contentsOfFile: dir + "/supervisor.pid", encoding: .utf8)))
        kill(supervisor, SIGKILL)
        let down = try Self.run("herd-lab", ["down", "--dir", dir])
        #expect(down.status == 0, "\(down.output)")
        #expect(!FileManager.default.fileExists(atPath: dir))
        let collapsed = dir.replacingOccurrences(of: "//", with: "/")
        let left = Self.processes(mentioning: dir) + Self.processes(mentioning: collapsed)
        #expect(left.isEmpty, "\(left)")
        #expect(try Self.run("herd-lab", ["status", "--dir", dir]).status != 0)
    }

    /// The scenario suite on a lab, as much of it as fits CI's time: each fault alone opens exactly one
    /// incident (a fleet fault: one fleet incident holding exactly the instances behind the failing
    /// endpoint), names the expected cause, and resolves when healed. `herd-lab evaluate` without
    /// `--faults` runs all of them (BENCHMARKS.md has the table).
    @Test func eachFaultIsOneIncidentWithTheRightCause() async throws {
        let parent = try TemporaryDirectory("herd-lab-test")
        defer { parent.remove() }
        chmod(parent.path, 0o755)
        let dir = parent.file("lab")
        #expect(try Self.run("herd-lab", ["evaluate", "--dir", dir, "--faults", "meteor"]).status == 64)
        #expect(try Self.run("herd-lab", ["evaluate", "--dir", dir, "--timeout", "0"]).status == 64)
        let up = try Self.run("herd-lab", ["up", "--dir", dir, "--instances", "3"])
        try #require(up.status == 0, "\(up.output)")
        defer { _ = try? Self.run("herd-lab", ["down", "--dir", dir]) }
        let faults = [
            "pg-down", "redis-down", "puma-down", "streaming-down", "upstream-502", "rails-pool", "object-storage",
            "sidekiq-stuck-job", "cert-expiring", "agent-silent",
        ]
        let suite = try Self.run(
            "herd-lab", ["evaluate", "--dir", dir, "--faults", faults.joined(separator: ","), "--settle", "10s"])
        #expect(suite.status == 0, "\(suite.output)")
        for fault in faults { #expect(suite.output.contains("\(fault): right"), "\(suite.output)") }
        #expect(suite.output.contains("incidents per fault 1.00"), "\(suite.output)")
    }

    /// `herdctl dashboard` as bob, in headless Chromium: each page rendered (and, with
    /// `HERD_SCREENSHOTS=DIR`, kept as PNG for the README), then the approval clicked.
    func approveInTheBrowser(lab dir: String, incident: Int64, remediation id: String, action: String) throws {
        let dashboard = try DashboardProcess(config: dir + "/operators/bob/config")
        defer { dashboard.stop() }
        let login = dashboard.login
        let base = dashboard.base
        let shots = try TemporaryDirectory("herd-dashboard")
        defer { shots.remove() }
        let steps: [[String: Any]] = [
            ["goto": login], ["wait_for": "alpha.lab.example", "timeout": 30], ["text": "fleet"],
            ["screenshot": "fleet"],
            ["goto": base + "/instances/alpha.lab.example"], ["text": "instance"], ["screenshot": "instance"],
            ["goto": base + "/incidents/\(incident)"], ["text": "incident"], ["screenshot": "incident"],
            ["goto": base + "/remediations"], ["text": "remediations"], ["screenshot": "remediations"],
            ["goto": base + "/remediations/\(id)"], ["text": "remediation"], ["screenshot": "remediation"],
            ["click": "#approve"], ["text": "approved"],
            ["goto": base + "/audit"], ["text": "audit"], ["screenshot": "audit"],
            ["goto": login], ["text": "again"],
        ]
        let results = try Browser.run(steps, screenshots: shots.path)
        func text(_ step: Int) -> String { results[step]["text"] as? String ?? "" }
        #expect(results[0]["status"] as? Int == 200, "\(results[0])")
        #expect(text(2).contains("alpha.lab.example") && text(2).contains("critical"), "\(text(2))")
        #expect(text(2).contains("bravo.lab.example"))
        #expect(
            text(5).contains("sidekiq") && text(5).contains("Sidekiq latency") && text(5).contains("Disk used"),
            "\(text(5))")
        #expect(text(8).contains("Probable cause") && text(8).contains("Sidekiq"), "\(text(8))")
        #expect(text(11).contains("alpha.lab.example") && text(11).contains(action), "\(text(11))")
        #expect(text(14).contains("The exact command") && text(14).contains("runs:"), "\(text(14))")
        #expect(results[16]["clicked"] as? Bool == true, "\(results[16])")
        #expect(text(17).contains("signed with your key and sent"), "\(text(17))")
        #expect(text(19).contains("chain intact") && text(19).contains("remediation.approve"), "\(text(19))")
        // The login link works once.
        #expect(text(22).contains("used already"), "\(text(22))")
        #expect(results.filter { ($0["bytes"] as? Int ?? 0) > 10_000 }.count == 6, "\(results.map { $0["bytes"] })")
        for name in ["fleet", "instance", "incident", "remediations", "remediation", "audit"] {
            if let keep = ProcessInfo.processInfo.environment["HERD_SCREENSHOTS"] {
                _ = try? FileManager.default.removeItem(atPath: keep + "/\(name).png")
                try FileManager.default.copyItem(atPath: shots.file("\(name).png"), toPath: keep + "/\(name).png")
            }
        }
    }
}
