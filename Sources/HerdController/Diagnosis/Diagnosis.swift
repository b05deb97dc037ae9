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

/// The results of one report by check id, with the look-ups the rules need. A split instance's checks
/// carry their host (`disk@db-1`, `CheckName`): the rules read them by their plain id — the worst of
/// that check over the instance's hosts — and evidence lines name the host each came from, so the
/// database host's full disk explains the web host's 500s.
struct Evidence: Sendable {
    /// The check whose trouble is being explained, by its plain id.
    let checkID: String
    /// By plain check id: the worst result over the hosts that report it.
    let results: [String: CheckResult]
    /// Every result as reported, host-qualified ids kept, for evidence lines.
    let parts: [CheckResult]
    /// That check's active patterns.
    let patterns: Set<Pattern>
    /// Each check's recent raw statuses, oldest first (`o w c u`), this report's last, by plain id.
    let recent: [String: String]

    init(checkID: String, _ report: Report, patterns: Set<Pattern>, recent: [String: String] = [:]) {
        var results: [String: CheckResult] = [:]
        for result in report.results {
            let plain = CheckName.plain(result.checkID)
            if let kept = results[plain], kept.status.rank >= result.status.rank { continue }
            results[plain] = result
        }
        var plainRecent: [String: String] = [:]
        for (check, letters) in recent.sorted(by: { $0.key < $1.key }) {
            let plain = CheckName.plain(check)
            // The host whose check is being explained speaks for it; otherwise the first host's.
            if plainRecent[plain] == nil || check == checkID { plainRecent[plain] = letters }
        }
        self.checkID = CheckName.plain(checkID)
        self.results = results
        self.parts = report.results.sorted { $0.checkID < $1.checkID }
        self.patterns = patterns
        self.recent = plainRecent
    }

    /// ` on HOST` when `check`'s worst result came from one host of a split instance, else empty.
    func host(of check: String) -> String {
        results[check].flatMap { CheckName.host($0.checkID) }.map { " on \($0)" } ?? ""
    }

    /// Whether `check` was OK again after failing, within its last ten results (nil: no history).
    func recoveredBetweenFailures(_ check: String) -> Bool? {
        guard let letters = recent[check] else { return nil }
        let window = letters.utf8.suffix(10)
        guard let failed = window.firstIndex(where: { $0 != UInt8(ascii: "o") }) else { return false }
        return window[failed...].contains(UInt8(ascii: "o"))
    }

    func metric(_ check: String, _ name: String) -> Double? { results[check]?.metrics[name] }

    func status(_ check: String) -> CheckStatus? { results[check]?.status }

    func troubled(_ check: String) -> Bool { (results[check]?.status).map { $0 != .ok } ?? false }

    /// Findings of `category` on any check (those `keep` accepts), as evidence lines.
    func findings(_ category: FindingCategory, where keep: (Finding) -> Bool = { _ in true }) -> [String] {
        found(category, where: keep).map { check, finding in
            "\(check): \(finding.signature) ×\(finding.count)" + (finding.sample.map { " — \($0)" } ?? "")
        }
    }

    /// Findings of `category` on any check, with the check that reported them, by check id.
    func found(_ category: FindingCategory, where keep: (Finding) -> Bool = { _ in true }) -> [(
        check: String, finding: Finding
    )] {
        parts.flatMap { result in
            result.findings.filter { $0.category == category && keep($0) }.map { (result.checkID, $0) }
        }
    }

    /// Metrics of `check` whose name ends with `suffix`, by the name before it.
    func metrics(_ check: String, endingWith suffix: String) -> [(name: String, value: Double)] {
        (results[check]?.metrics ?? [:]).filter { $0.key.hasSuffix(suffix) }
            .map { (String($0.key.dropLast(suffix.count)), $0.value) }.sorted { $0.name < $1.name }
    }

    func summary(_ check: String) -> [String] {
        results[check].map { ["\($0.checkID) \($0.status.rawValue): \($0.summary)"] } ?? []
    }
}

/// One cause in the causal model: the checks whose trouble it explains (its symptoms: they join its
/// incident instead of opening their own), the evidence that says it is the cause, and what to do.
struct DiagnosisRule: Sendable {
    var id: String
    /// The checks whose incidents this rule may explain.
    var explains: Set<String>
    /// The evidence it needs, in words (Controller/README.md's causal model table).
    var needs: String
    /// Evidence lines when the rule applies to this report, nil when it does not.
    var match: @Sendable (Evidence) -> [String]?
    var cause: @Sendable (Evidence) -> String
    /// The next step, with the host's own numbers where the evidence has them.
    var nextStep: @Sendable (Evidence) -> String
    var action: SuggestedAction?

    init(
        id: String, explains: Set<String>, needs: String, match: @escaping @Sendable (Evidence) -> [String]?,
        cause: @escaping @Sendable (Evidence) -> String, nextStep: @escaping @Sendable (Evidence) -> String,
        action: SuggestedAction?
    ) {
        self.id = id
        self.explains = explains
        self.needs = needs
        self.match = match
        self.cause = cause
        self.nextStep = nextStep
        self.action = action
    }

    init(
        id: String, explains: Set<String>, needs: String, match: @escaping @Sendable (Evidence) -> [String]?,
        cause: @escaping @Sendable (Evidence) -> String, nextStep: String, action: SuggestedAction?
    ) {
        self.init(
            id: id, explains: explains, needs: needs, match: match, cause: cause, nextStep: { _ in nextStep },
            action: action)
    }
}

/// A split instance's check ids: `CHECK@HOST`, the check as its agent named it and the label of the
/// host that ran it (`AgentRole.hostLabel`). An instance on one host has plain ids.
enum CheckName {
    static func plain(_ id: String) -> String {
        id.firstIndex(of: "@").map { String(id[..<$0]) } ?? id
    }

    static func host(_ id: String) -> String? {
        id.firstIndex(of: "@").map { String(id[id.index(after: $0)...]) }
    }

    static func qualified(_ id: String, host: String?) -> String {
        host.map { id + "@" + $0 } ?? id
    }
}

enum Diagnoser {
    /// The rule id of "no playbook rule explains it".
    static let unexplained = "unexplained"

    /// The first rule, in playbook order, that explains `checkID`'s trouble with this report's evidence.
    static func diagnose(checkID: String, report: Report, patterns: Set<Pattern>, recent: [String: String] = [:])
        -> Diagnosis
    {
        let evidence = Evidence(checkID: checkID, report, patterns: patterns, recent: recent)
        for rule in DiagnosisRules.all where rule.explains.contains(evidence.checkID) {
            if let lines = rule.match(evidence), !lines.isEmpty {
                return Diagnosis(
                    rule: rule.id, cause: rule.cause(evidence), evidence: Array(lines.prefix(8)),
                    nextStep: rule.nextStep(evidence), action: rule.action)
            }
        }
        return Diagnosis(
            rule: unexplained, cause: "\(checkID) is failing and no playbook rule explains it",
            evidence: evidence.parts.filter { $0.checkID == checkID }.map {
                "\($0.checkID) \($0.status.rawValue): \($0.summary)"
            },
            nextStep: "Read the check's findings with herdctl show \(report.instance), then the instance's logs",
            action: nil)
    }
}
