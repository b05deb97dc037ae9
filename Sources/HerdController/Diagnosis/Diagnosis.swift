import HerdProtocol

/// A probable cause with its evidence, the playbook's next step, and — where one exists — the
/// remediation an operator could approve (the remediation catalogue's action and parameters).
public struct Diagnosis: Sendable, Hashable, Codable {
    public var rule: String
    public var cause: String
    public var evidence: [String]
    public var nextStep: String
    public var action: SuggestedAction?

    enum CodingKeys: String, CodingKey {
        case rule, cause, evidence
        case nextStep = "next_step"
        case action
    }
}

public struct SuggestedAction: Sendable, Hashable, Codable {
    public var action: String
    public var parameters: [String: String]
}

/// The results of one report by check id, with the look-ups the rules need.
struct Evidence: Sendable {
    let results: [String: CheckResult]
    let patterns: Set<Pattern>

    init(_ report: Report, patterns: Set<Pattern>) {
        var results: [String: CheckResult] = [:]
        for result in report.results { results[result.checkID] = result }
        self.results = results
        self.patterns = patterns
    }

    func metric(_ check: String, _ name: String) -> Double? { results[check]?.metrics[name] }

    func status(_ check: String) -> CheckStatus? { results[check]?.status }

    func troubled(_ check: String) -> Bool { (results[check]?.status).map { $0 != .ok } ?? false }

    /// Findings of `category` on any check, as evidence lines.
    func findings(_ category: FindingCategory) -> [String] {
        results.values.sorted { $0.checkID < $1.checkID }.flatMap { result in
            result.findings.filter { $0.category == category }.map { finding in
                "\(result.checkID): \(finding.signature) ×\(finding.count)"
                    + (finding.sample.map { " — \($0)" } ?? "")
            }
        }
    }

    func summary(_ check: String) -> [String] {
        results[check].map { ["\(check) \($0.status.rawValue): \($0.summary)"] } ?? []
    }
}

/// One playbook step as a rule: which checks' trouble it can explain, and the evidence that says so.
struct DiagnosisRule: Sendable {
    var id: String
    /// The checks whose incidents this rule may explain.
    var explains: Set<String>
    /// Evidence lines when the rule applies to this report, nil when it does not.
    var match: @Sendable (Evidence) -> [String]?
    var cause: @Sendable (Evidence) -> String
    var nextStep: String
    var action: SuggestedAction?
}

enum Diagnoser {
    /// The rule id of "no playbook rule explains it".
    static let unexplained = "unexplained"

    /// The first rule, in playbook order, that explains `checkID`'s trouble with this report's evidence.
    static func diagnose(checkID: String, report: Report, patterns: Set<Pattern>) -> Diagnosis {
        let evidence = Evidence(report, patterns: patterns)
        for rule in DiagnosisRules.all where rule.explains.contains(checkID) {
            if let lines = rule.match(evidence), !lines.isEmpty {
                return Diagnosis(
                    rule: rule.id, cause: rule.cause(evidence), evidence: Array(lines.prefix(8)),
                    nextStep: rule.nextStep, action: rule.action)
            }
        }
        return Diagnosis(
            rule: unexplained, cause: "\(checkID) is failing and no playbook rule explains it",
            evidence: evidence.summary(checkID),
            nextStep: "Read the check's findings with herdctl show \(report.instance), then the instance's logs",
            action: nil)
    }
}
