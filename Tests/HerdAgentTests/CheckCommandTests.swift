import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// `herd-agent check` as an operator runs it: the built executable on a fixture host, no controller.
@Suite struct CheckCommandTests {
    /// The healthy fixture host and a configuration file for it (the systemctl stand-in answers from a
    /// `units/` directory beside it, since the agent passes its children no environment of its own).
    static func host() throws -> (FixtureHost, config: String) {
        let host = try FixtureHost("healthy")
        let bin = host.temporary.file("bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(FixtureHost.standins)/system/systemctl", toPath: "\(bin)/systemctl")
        try FileManager.default.createSymbolicLink(
            atPath: "\(bin)/units", withDestinationPath: "\(host.source)/systemd")
        let config =
            try String(contentsOfFile: "\(host.source)/agent.conf", encoding: .utf8) + """
                command_path = \(host.source)/bin:\(bin)
                checks.disabled = \(FixtureHost.serviceChecks.joined(separator: ", "))
                """
        try config.write(toFile: host.temporary.file("agent.conf"), atomically: true, encoding: .utf8)
        return (host, host.temporary.file("agent.conf"))
    }

    @Test func aTableThenWhatTheCycleCost() throws {
        let (host, config) = try Self.host()
        defer { host.remove() }
        let run = try BuiltProduct.run(
            "herd-agent", ["check", "--config", config, "--root", host.root, "--only", "services", "--only", "media"])
        #expect(run.status == 0, "\(run.output)")
        let lines = run.output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("OK       services") && $0.contains("units active") }, "\(run.output)")
        #expect(lines.contains { $0.hasPrefix("OK       media") }, "\(run.output)")
        // The last line: what the cycle cost, the commands it ran (systemctl, ffmpeg…) apart.
        let cost = try #require(lines.last)
        #expect(cost.hasPrefix("— 2 checks in ") && cost.contains("ms (agent) + ") && cost.contains("peak RSS "))
    }

    @Test func jsonIsTheProtocolsCheckResults() throws {
        let (host, config) = try Self.host()
        defer { host.remove() }
        let run = try BuiltProduct.run(
            "herd-agent", ["check", "--config", config, "--root", host.root, "--only", "disk", "--json"])
        #expect(run.status == 0, "\(run.output)")
        let json = try JSONValue.parse(Array(run.output.utf8))
        let results = try #require(json["results"]?.arrayValue)
        #expect(results.count == 1)
        #expect(results.first?["check_id"]?.stringValue == "disk")
    }

    static let badArguments: [([String], Int32)] = [
        (["--only", "no-such-check"], 1), (["--every", "3s"], 64), (["--every", "60"], 64),
        (["--state-dir", "relative"], 64),
        (["--config", "/nonexistent/agent.conf"], 1),
    ]

    @Test(arguments: badArguments)
    func badArgumentsFailWithoutRunningChecks(arguments: [String], status: Int32) throws {
        let (host, config) = try Self.host()
        defer { host.remove() }
        let run = try BuiltProduct.run("herd-agent", ["check", "--config", config, "--root", host.root] + arguments)
        #expect(run.status == status, "\(run.output)")
        #expect(!run.output.contains("— "), "\(run.output)")
    }
}
