import ArgumentParser
import Foundation
import HerdProtocol

/// `herd-lab evaluate`: the scenario suite. On a running lab, each fault alone — heal, inject, wait for
/// what Herd opens, heal, wait for it to resolve — and a table of what Herd made of it: how many
/// incidents (one per fault is right; a fleet fault is one fleet incident), which instances a fleet
/// incident holds, the cause named against the one expected, the remediation offered, how long
/// detection took, and whether healing resolved it. Exits 1 when any fault is judged wrong.
struct LabEvaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "On a running lab: inject each fault alone and print what Herd made of it.",
        discussion: """
            Exit status 0 when every fault opened exactly one incident, on the faulted instance, with the \
            expected cause (a fleet fault: one fleet incident holding exactly the faulted instances) that \
            healing resolved; 1 otherwise. Faults: \(LabFault.allCases.map(\.rawValue).joined(separator: ", ")).
            """)
    @OptionGroup var options: LabOptions
    @Option(help: "Comma-separated faults (default: every one this user can inject).") var faults: String?
    @Option(help: "The instance to break (alpha or alpha.lab.example).") var instance = "bravo"
    @Option(help: "How long to wait for detection, and again for resolution: 10s to 30m.") var timeout = "2m"
    @Option(help: "How long to keep watching after the first incident, for any other: 0s to 5m.") var settle = "20s"

    var chosen: [LabFault] {
        get throws {
            guard let faults else { return LabFault.allCases.filter { !$0.needsRoot || getuid() == 0 } }
            return try faults.split(separator: ",").map { name in
                guard let fault = LabFault(rawValue: String(name)) else {
                    throw ValidationError(
                        "unknown fault \(name): \(LabFault.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return fault
            }
        }
    }

    func validate() throws {
        _ = try chosen
        _ = try timeoutSeconds
        _ = try settleSeconds
    }

    var timeoutSeconds: Int {
        get throws { try wholeSeconds(timeout, "--timeout", in: .seconds(10)...(.seconds(1800))) }
    }
    var settleSeconds: Int { get throws { try wholeSeconds(settle, "--settle", in: .zero...(.seconds(300))) } }

    func run() async throws {
        let lab = LabOperator(layout: options.layout)
        let names = try lab.instanceNames()
        guard let target = names.first(where: { $0 == instance || $0.hasPrefix(instance + ".") }) else {
            throw ValidationError("no instance \(instance) (\(names.joined(separator: ", ")))")
        }
        var rows: [Row] = []
        for fault in try chosen {
            let row = try await evaluate(fault, on: target, lab: lab, fleet: names)
            say(row.line)
            rows.append(row)
        }
        say("")
        say(Row.table(rows))
        let right = rows.filter(\.passed).count
        let opened = rows.map(\.opened).reduce(0, +)
        say(
            "\(rows.count) fault(s): \(right) right; incidents per fault \(String(format: "%.2f", Double(opened) / Double(max(1, rows.count))))"
        )
        if right < rows.count { throw ExitCode(1) }
    }

    struct Row {
        var fault: LabFault
        var opened = 0
        var members: [String]?
        var cause: String?
        var remediation: String?
        var secondsToIncident: Double?
        var resolved = false
        var problems: [String] = []
        var passed: Bool { problems.isEmpty }

        var line: String {
            "\(fault.rawValue): \(passed ? "right" : "WRONG (" + problems.joined(separator: "; ") + ")")"
        }

        static func table(_ rows: [Row]) -> String {
            var lines = [
                "| fault | incidents opened | fleet members | cause (expected) | remediation offered | s to incident | resolved on heal |",
                "|---|---|---|---|---|---|---|",
            ]
            for row in rows {
                let members = row.members.map { $0.map { String($0.prefix { $0 != "." }) }.joined(separator: ", ") }
                let cause =
                    (row.cause ?? "none")
                    + (row.cause == row.fault.expectedCause ? "" : " (\(row.fault.expectedCause))")
                lines.append(
                    "| \(row.fault.rawValue) | \(row.opened) | \(members ?? "-") | \(cause) | \(row.remediation ?? "none") | "
                        + "\(row.secondsToIncident.map { String(Int($0.rounded())) } ?? "-") | \(row.resolved ? "yes" : "no") |"
                )
            }
            return lines.joined(separator: "\n")
        }
    }

    func evaluate(_ fault: LabFault, on target: String, lab: LabOperator, fleet: [String]) async throws -> Row {
        var row = Row(fault: fault)
        let (timeout, settle) = (try timeoutSeconds, try settleSeconds)
        _ = try options.request(["heal", "all"])
        // Start from a quiet fleet: nothing open from the fault before.
        guard try await lab.until(seconds: timeout, { try lab.incidents(openOnly: true).isEmpty }) else {
            row.problems.append("the fleet did not settle before it (incidents still open)")
            return row
        }
        let before = try lab.incidents(openOnly: false).map(\.id).max() ?? 0
        let start = Date()
        _ = try options.request(["break", target, fault.rawValue])
        var new: [OperatorAPI.IncidentRow] = []
        let detected = try await lab.until(seconds: timeout) {
            new = try lab.incidents(openOnly: false).filter { $0.id > before }
            return !new.isEmpty
        }
        guard detected else {
            row.problems.append("no incident within \(timeout) s")
            _ = try options.request(["heal", "all"])
            return row
        }
        try await Task.sleep(for: .seconds(max(settle, fault.minimumSettle)))
        new = try lab.incidents(openOnly: false).filter { $0.id > before }
        let top = new.filter { $0.parentId == nil }.sorted { $0.id < $1.id }
        row.opened = top.count
        let main = top.first { $0.kind == "fleet" } ?? top.first
        row.cause = main?.diagnosis?.rule
        row.remediation = main?.diagnosis?.action.map { action in
            ([action] + (main?.diagnosis?.parameters ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
                .joined(separator: " ")
        }
        row.secondsToIncident = new.map(\.openedAt).min().map { $0.timeIntervalSince(start) }
        if let fleetIncident = top.first(where: { $0.kind == "fleet" }) {
            row.members = Set(try lab.incident(fleetIncident.id).members.compactMap(\.instance)).sorted()
        }

        _ = try options.request(["heal", "all"])
        row.resolved = try await lab.until(seconds: timeout) {
            try lab.incidents(openOnly: false).filter { $0.id > before }.allSatisfy { $0.state == "resolved" }
        }

        if row.opened != 1 {
            row.problems.append(
                "\(row.opened) incidents: "
                    + top.map { "#\($0.id) \($0.subject) (\($0.diagnosis?.rule ?? "-"))" }.joined(separator: ", "))
        }
        if row.cause != fault.expectedCause { row.problems.append("cause \(row.cause ?? "none")") }
        // The right instance named: every incident a one-instance fault opened is the target's.
        let elsewhere = top.filter { $0.kind == "instance" && $0.instance != target }
        if !fault.isFleetWide, !elsewhere.isEmpty {
            row.problems.append(
                "incidents on other instances: " + elsewhere.map { $0.instance ?? "-" }.joined(separator: ", "))
        }
        if fault.isFleetWide {
            let faulted = fleet.filter {
                LabFleet.endpoint(of: $0, in: fleet) == LabFleet.endpoint(of: target, in: fleet)
            }
            if row.members != faulted.sorted() {
                row.problems.append("members \(row.members ?? []) (\(faulted.sorted()))")
            }
        } else if row.members != nil {
            row.problems.append("a fleet incident for one instance's fault")
        }
        if !row.resolved { row.problems.append("not resolved within \(timeout) s of the heal") }
        return row
    }
}

/// What the lab's tools ask the controller, as the first operator, through herdctl.
struct LabOperator {
    let layout: LabLayout

    func herdctl(_ arguments: [String], as config: String? = nil) throws -> (status: Int32, output: String) {
        try LabProcess.run(LabLayout.binaries + "/herdctl", arguments + ["--config", config ?? layout.adminConfig])
    }

    func json<T: Decodable>(_ type: T.Type, _ arguments: [String]) throws -> T {
        let (status, output) = try herdctl(arguments + ["--json"])
        guard status == 0 else {
            throw LabError("herdctl \(arguments.joined(separator: " ")) failed (\(status)): \(output)")
        }
        return try JSONCodable.decode(T.self, from: Data(output.utf8))
    }

    func incidents(openOnly: Bool) throws -> [OperatorAPI.IncidentRow] {
        try json(OperatorAPI.Incidents.self, ["incidents"] + (openOnly ? ["--open"] : [])).incidents
    }

    func incident(_ id: Int64) throws -> OperatorAPI.IncidentDetail {
        try json(OperatorAPI.IncidentDetail.self, ["incident", "show", "\(id)"])
    }

    /// The lab's instances, as the controller lists them.
    func instanceNames() throws -> [String] {
        let (status, output) = try herdctl(["status", "--all", "--json"])
        guard status == 0 || status == 1 else { throw LabError("herdctl status failed (\(status)): \(output)") }
        return try WireCoding.decode(
            OperatorAPI.Fleet.self, from: Array(output.utf8), maxBytes: OperatorAPI.Fleet.maxBytes
        )
        .instances.map(\.instance).sorted()
    }

    /// Polls `condition` every second until it holds (true) or `seconds` pass (false).
    func until(seconds: Int, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(Double(seconds))
        while Date() < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .seconds(1))
        }
        return try condition()
    }
}
