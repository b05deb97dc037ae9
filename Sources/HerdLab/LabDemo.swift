import ArgumentParser
import Foundation
import HerdProtocol

/// `herd-lab demo`: the walkthrough on a running lab — faults the playbook covers, what Herd detects
/// and diagnoses, and one remediation proposed by one operator, approved by another and executed by
/// the agent, ending with the incident resolved. Everything shown is `herdctl`'s own output.
struct LabDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "On a running lab: inject faults, show detection and diagnosis, remediate one, see it resolved.")
    @OptionGroup var options: LabOptions
    @Option(help: "How long to wait for each step: 10s to 30m.") var timeout = "3m"

    var timeoutSeconds: Int {
        get throws { try wholeSeconds(timeout, "--timeout", in: .seconds(10)...(.seconds(1800))) }
    }

    func validate() throws { _ = try timeoutSeconds }

    func run() async throws {
        let layout = options.layout
        let lab = LabOperator(layout: layout)
        let seconds = try timeoutSeconds
        func herdctl(_ arguments: [String], as config: String? = nil, show: Bool = true) throws -> String {
            let (status, output) = try lab.herdctl(arguments, as: config)
            if show {
                say("$ herdctl \(arguments.joined(separator: " "))\(config == nil ? "" : "   # as bob")")
                say(output)
            }
            guard status == 0 || (arguments.first == "status" && status == 1) else {
                throw LabError("herdctl \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
            }
            return output
        }
        func wait(_ what: String, _ condition: () throws -> Bool) async throws {
            say("… waiting for \(what)")
            guard try await lab.until(seconds: seconds, condition) else {
                throw LabError("gave up waiting for \(what) after \(timeout)")
            }
        }

        _ = try herdctl(["status"])
        let names = LabFleet.names
        var faults: [(String, LabFault)] = [
            (names[0], .sidekiqDead), (names[2], .dbPool), (names[1], .upstream502), (names[0], .objectStorage),
        ]
        if getuid() == 0 { faults.append((names[3], .diskFull)) }
        for (instance, fault) in faults {
            say(
                "$ herd-lab break \(instance) \(fault.rawValue)\n"
                    + (try options.request(["break", instance, fault.rawValue])))
        }
        var sidekiq: OperatorAPI.IncidentRow?
        try await wait("an incident for each fault") {
            let open = try lab.incidents(openOnly: true)
            sidekiq = open.first {
                $0.instance == names[0] && !Set(["sidekiq", "services"]).isDisjoint(with: $0.checks)
                    && $0.diagnosis?.rule == "sidekiq_down"
            }
            let pool = open.contains { $0.instance == names[2] && $0.checks.contains("postgresql") }
            let disk = getuid() != 0 || open.contains { $0.instance == names[3] && $0.checks.contains("disk") }
            return sidekiq != nil && pool && disk && open.contains { $0.kind == "fleet" }
        }
        _ = try herdctl(["status"])
        _ = try herdctl(["incidents", "--open"])
        _ = try herdctl(["patterns"])
        let incident = try require(sidekiq, "the Sidekiq incident")
        _ = try herdctl(["incident", "show", "\(incident.id)"])

        let proposal = try lab.json(OperatorAPI.RemediationDetail.self, ["incident", "remediate", "\(incident.id)"])
        _ = try herdctl(["remediate", "show", proposal.remediation.id])
        _ = try herdctl(["remediate", "approve", proposal.remediation.id, "--yes"], as: layout.secondOperatorConfig)
        try await wait("the agent to restart Sidekiq and the incident to resolve") {
            try lab.incident(incident.id).incident.state == "resolved"
        }
        _ = try herdctl(["remediate", "show", proposal.remediation.id])
        _ = try herdctl(["incident", "show", "\(incident.id)"])
        say("$ herd-lab heal all\n" + (try options.request(["heal", "all"])))
        _ = try herdctl(["audit", "--verify"])
        say("The lab keeps running: herd-lab status, herd-lab break …, herd-lab down (removes everything).")
    }
}

/// Written at once, also into a pipe: a walkthrough is read as it happens.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// `#require` for a command-line tool.
func require<T>(_ value: T?, _ what: @autoclosure () -> String = "a value") throws -> T {
    guard let value else { throw LabError("missing \(what())") }
    return value
}
