/// The remediation catalogue: what each action is, how risky, how long it may run, which checks tell
/// whether it helped, and how operators name it (`herdctl remediate propose INSTANCE NAME --param k=v`).
/// Controller/README.md §Remediation catalogue is this table in prose; the agent maps each action to
/// its argv from its own host configuration (HerdAgent `RemediationCatalogue`).
///
/// Deliberately absent: `tootctl cache clear` (it empties Redis' cache while an incident is open, and
/// every web and Sidekiq process then hits PostgreSQL at once — a thundering herd on a database that is
/// often the incident's cause), `tootctl maintenance fix-duplicates` (needs Mastodon stopped and an
/// operator reading its prompts), `tootctl statuses remove --compress-database` (long exclusive locks),
/// and any Redis `FLUSHDB`/`FLUSHALL` (loses Sidekiq's queues, retries and schedules: lost jobs).
extension CommandAction {
    /// How many operators must approve, set per class by the controller's policy and, independently,
    /// by each host's trust file.
    public enum Risk: String, Sendable, Hashable, CaseIterable, Comparable {
        /// Changes nothing (a dry run): the requester's own signature suffices by default.
        case preview
        /// Restarts or reloads a service: one approval by default.
        case routine
        /// Deletes data: two approvals by default.
        case destructive

        public static func < (lhs: Risk, rhs: Risk) -> Bool {
            allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
        }
    }

    public var risk: Risk {
        switch self {
        case .restartService: .routine
        case .mediaRemove(let p): p.dryRun ? .preview : .destructive
        case .previewCardsRemove(let p): p.dryRun ? .preview : .destructive
        }
    }

    /// The same action as a dry run, shown to operators before they approve; nil when the action has no
    /// dry run or is one already.
    public var dryRunVariant: CommandAction? {
        switch self {
        case .restartService: nil
        case .mediaRemove(let p):
            p.dryRun
                ? nil
                : .mediaRemove(
                    MediaRemove(
                        days: p.days, dryRun: true, pruneProfiles: p.pruneProfiles, removeHeaders: p.removeHeaders))
        case .previewCardsRemove(let p):
            p.dryRun ? nil : .previewCardsRemove(PreviewCardsRemove(days: p.days, dryRun: true))
        }
    }

    /// How long the agent lets it run before killing it.
    public var timeout: Duration {
        switch self {
        case .restartService: .seconds(120)
        case .mediaRemove, .previewCardsRemove: .seconds(3600)
        }
    }

    /// The checks the agent runs again afterwards, whose results show whether the action helped.
    public var verificationChecks: [String] {
        switch self {
        case .restartService(.web): ["services", "mastodon.http"]
        case .restartService(.sidekiq): ["services", "sidekiq"]
        case .restartService(.streaming): ["services", "mastodon.http"]
        case .restartService(.nginx): ["services", "mastodon.http"]
        case .mediaRemove, .previewCardsRemove: ["disk"]
        }
    }

    /// How long the instance is in maintenance (notifications silenced) once the command is dispatched:
    /// the timeout plus the time the agent needs to re-run its checks and report.
    public var maintenanceWindow: Duration { timeout + .seconds(300) }

    /// The operator's name for the action: `restart-service`, `media-remove`, `preview-cards-remove`.
    public var name: String {
        switch self {
        case .restartService: "restart-service"
        case .mediaRemove: "media-remove"
        case .previewCardsRemove: "preview-cards-remove"
        }
    }

    public static let names = ["restart-service", "media-remove", "preview-cards-remove"]

    /// The parameters as `key=value`, in a fixed order.
    public var parameterList: [String] {
        switch self {
        case .restartService(let service): ["service=\(service.rawValue)"]
        case .mediaRemove(let p):
            [
                "days=\(p.days)", "dry_run=\(p.dryRun)", "prune_profiles=\(p.pruneProfiles)",
                "remove_headers=\(p.removeHeaders)",
            ]
        case .previewCardsRemove(let p): ["days=\(p.days)", "dry_run=\(p.dryRun)"]
        }
    }

    /// One line: `media-remove days=7 dry_run=true …`.
    public var summary: String { ([name] + parameterList).joined(separator: " ") }

    /// What the host runs, as operators read it (the agent builds the real argv from its configuration:
    /// unit names, the live directory, the mastodon user). A host may name its units otherwise
    /// (`mastodon-sidekiq@alpha.service` on a multi-instance host), so the setting is named with them.
    public var hostCommand: String {
        switch self {
        case .restartService(.nginx): "systemctl reload nginx.service"
        case .restartService(.streaming): "systemctl restart mastodon-streaming@*.service (the host's units.streaming)"
        case .restartService(let service):
            "systemctl restart mastodon-\(service.rawValue).service (the host's units.\(service.rawValue))"
        case .mediaRemove, .previewCardsRemove:
            "systemctl start --wait herd-tootctl@\(unitInstance).service → as mastodon in the live dir: "
                + "RAILS_ENV=production bin/tootctl \(tootctlArguments.joined(separator: " "))"
        }
    }

    /// The arguments of `bin/tootctl` for the tootctl actions; empty for service restarts.
    public var tootctlArguments: [String] {
        switch self {
        case .restartService: return []
        case .mediaRemove(let p):
            var argv = ["media", "remove", "--days", String(p.days)]
            if p.pruneProfiles { argv.append("--prune-profiles") }
            if p.removeHeaders { argv.append("--remove-headers") }
            if p.dryRun { argv.append("--dry-run") }
            return argv
        case .previewCardsRemove(let p):
            var argv = ["preview_cards", "remove", "--days", String(p.days)]
            if p.dryRun { argv.append("--dry-run") }
            return argv
        }
    }

    /// Builds an action from its operator name and `key=value` parameters, with the wire's bounds.
    /// Booleans default to false; an unknown or missing parameter is refused (`invalid_field`).
    public init(name: String, parameters: [String: String]) throws(WireError) {
        func allow(_ keys: Set<String>) throws(WireError) {
            if let extra = parameters.keys.sorted().first(where: { !keys.contains($0) }) {
                throw .invalid(
                    "parameters.\(extra)", "not a parameter of \(name) (\(keys.sorted().joined(separator: ", ")))")
            }
        }
        func days(_ range: ClosedRange<Int>) throws(WireError) -> Int {
            guard let text = parameters["days"] else { throw .invalid("parameters.days", "required") }
            guard let value = Int(text), range.contains(value) else {
                throw .invalid("parameters.days", "must be \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }
        func flag(_ key: String) throws(WireError) -> Bool {
            switch parameters[key] {
            case nil, "false": return false
            case "true": return true
            default: throw .invalid("parameters.\(key)", "must be true or false")
            }
        }
        switch name {
        case "restart-service":
            try allow(["service"])
            guard let text = parameters["service"], let service = ServiceName(rawValue: text) else {
                throw .invalid(
                    "parameters.service",
                    "must be one of \(ServiceName.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self = .restartService(service)
        case "media-remove":
            try allow(["days", "dry_run", "prune_profiles", "remove_headers"])
            self = .mediaRemove(
                MediaRemove(
                    days: try days(MediaRemove.days), dryRun: try flag("dry_run"),
                    pruneProfiles: try flag("prune_profiles"), removeHeaders: try flag("remove_headers")))
        case "preview-cards-remove":
            try allow(["days", "dry_run"])
            self = .previewCardsRemove(
                PreviewCardsRemove(days: try days(PreviewCardsRemove.days), dryRun: try flag("dry_run")))
        default:
            throw .invalid(
                "action", "unknown action '\(name)'; the catalogue has \(Self.names.joined(separator: ", "))")
        }
    }

    /// The instance name of the `herd-tootctl@.service` template that runs a tootctl action:
    /// `media-remove-7[-prune-profiles][-remove-headers][-dry-run]`, `preview-cards-remove-30[-dry-run]`.
    /// Only characters systemd keeps as they are in unit names.
    public var unitInstance: String {
        switch self {
        case .restartService(let service): return "restart-\(service.rawValue)"
        case .mediaRemove(let p):
            return "media-remove-\(p.days)" + (p.pruneProfiles ? "-prune-profiles" : "")
                + (p.removeHeaders ? "-remove-headers" : "") + (p.dryRun ? "-dry-run" : "")
        case .previewCardsRemove(let p):
            return "preview-cards-remove-\(p.days)" + (p.dryRun ? "-dry-run" : "")
        }
    }

    /// Reads `unitInstance` back for a tootctl action, strictly (the exact spelling it writes, bounds
    /// included); nil for anything else.
    public init?(tootctlUnitInstance text: String) {
        for prefix in ["media-remove-", "preview-cards-remove-"] where text.hasPrefix(prefix) {
            let rest = text.dropFirst(prefix.count)
            let digits = rest.prefix { $0 >= "0" && $0 <= "9" }
            guard !digits.isEmpty, digits.count <= 3, let days = Int(digits) else { return nil }
            let candidates: [CommandAction] =
                prefix == "media-remove-"
                ? [false, true].flatMap { prune in
                    [false, true].flatMap { headers in
                        [false, true].map { dry in
                            .mediaRemove(
                                MediaRemove(days: days, dryRun: dry, pruneProfiles: prune, removeHeaders: headers))
                        }
                    }
                }
                : [false, true].map { .previewCardsRemove(PreviewCardsRemove(days: days, dryRun: $0)) }
            guard let match = candidates.first(where: { $0.unitInstance == text }),
                (try? match.validate()) != nil
            else { return nil }
            self = match
            return
        }
        return nil
    }
}
