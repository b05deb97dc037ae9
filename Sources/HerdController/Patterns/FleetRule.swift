import HerdProtocol

/// Fleet-wide: the same check, or the same error category, in trouble on ≥ `minInstances` distinct
/// instances — or on ≥ `minFraction` of a group of instances sharing an attribute — within the window →
/// ONE fleet incident listing its members. An attribute groups only the trouble it can explain
/// (`explains`): a shared object-storage endpoint explains object-storage errors, not a Redis outage. The group that explains it best is chosen: the attribute whose
/// instances are most affected (12 of the 40 behind one object-storage endpoint beats 12 of the 100 on
/// one Mastodon version). Members' own incidents link to it and their notifications are suppressed
/// (Alertmanager's inhibition), which the group wait before an instance incident notifies makes work.
/// Evaluated when an instance incident opens or its categories change: a query over open incidents,
/// never over history. The rule decides; what it reads and writes is the store's (`IncidentBook+Fleet`).
struct FleetRule {
    let settings: PatternSettings.Fleet
    let book: IncidentBook

    init(_ settings: PatternSettings.Fleet, book: IncidentBook) {
        self.settings = settings
        self.book = book
    }

    /// Instance attributes that group a fleet, most telling first; tags and operator attributes follow.
    static let attributes = ["object_storage_endpoint", "provider", "region", "mastodon_version"]

    /// A name instances can be grouped, routed and filtered by: a column the agent reports, `tag.KEY`
    /// (the agent's tags) or `attribute.KEY` (an operator's).
    static func isAttributeName(_ name: String) -> Bool {
        if attributes.contains(name) { return true }
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        return parts.count == 2 && ["tag", "attribute"].contains(parts[0]) && Rule.isIdentifier(parts[1])
    }

    struct Group: Hashable {
        var attribute: String
        var value: String
    }

    /// The subjects an attribute can explain. An attribute not named here — a provider, a region, a tag,
    /// an operator's attribute, the whole fleet — stands for shared infrastructure and explains any.
    static let explains: [String: Set<String>] = [
        "object_storage_endpoint": ["category:object_storage"],
        // A release's regression shows in what the application does, not in the host under it.
        "mastodon_version": [
            "category:other", "category:media_processing", "category:encoding_error",
            "category:sidekiq_backlog_or_retry", "check:logs", "check:api_probe", "check:sidekiq", "check:media",
        ],
    ]

    static func group(_ group: Group, canExplain subject: String) -> Bool {
        explains[group.attribute].map { $0.contains(subject) } ?? true
    }

    func consider(incidentID: Int64, instanceID: Int64, checkID: String, categories: [String], at: Double) throws {
        let allGroups = try book.groups(of: instanceID)
        let subjects =
            categories.filter { !RecurringCategoryRule.ignored.contains($0) }.map { "category:\($0)" }
            + ["check:\(CheckName.plain(checkID))"]
        for subject in subjects {
            let groups = allGroups.filter { Self.group($0, canExplain: subject) }
            // An open fleet incident for this trouble whose group this instance is in: join it.
            for group in groups {
                if let fleet = try book.openFleetIncident(subject: subject, group: group) {
                    try link([incidentID], to: fleet, at: at)
                    return
                }
            }
            // Otherwise: is it on enough instances now?
            // Instances, not incidents, are counted: one instance's two incidents are one instance.
            let (kind, value) = Self.split(subject)
            let members = try book.fleetCandidates(
                checkID: kind == "check" ? value : nil, category: kind == "check" ? nil : value,
                since: at - settings.windowSeconds)
            guard Set(members.map(\.instanceID)).count >= 2 else { continue }
            let memberGroups = try members.map { Set(try book.groups(of: $0.instanceID)) }
            var best: (group: Group, members: [Int64], instances: Int, share: Double)?
            for group in groups {
                let inGroup = zip(members, memberGroups).filter { $0.1.contains(group) }.map(\.0)
                let size = try book.size(of: group)
                let k = Set(inGroup.map(\.instanceID)).count
                guard size > 0 else { continue }
                let share = Double(k) / Double(size)
                let qualifies =
                    k >= settings.minInstances || (size >= settings.minGroup && k >= 2 && share >= settings.minFraction)
                guard qualifies else { continue }
                if best == nil || share > best!.share || (share == best!.share && k > best!.instances) {
                    best = (group, inGroup.map(\.incidentID), k, share)
                }
            }
            if let best {
                try open(subject: subject, group: best.group, members: best.members, instances: best.instances, at: at)
                return
            }
        }
    }

    static func split(_ subject: String) -> (String, String) {
        let parts = subject.split(separator: ":", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }

    private func open(subject: String, group: Group, members: [Int64], instances: Int, at: Double) throws {
        let (kind, value) = Self.split(subject)
        let trouble = kind == "check" ? "\(value) in trouble" : "\(value) errors"
        let place = group.attribute == "fleet" ? "across the fleet" : "sharing \(group.attribute) = \(group.value)"
        let fleet = try book.insertFleetIncident(
            subject: subject, checkID: kind == "check" ? value : nil, category: kind == "category" ? value : "",
            group: group, summary: "\(trouble) on instances \(place)",
            diagnosis: Self.diagnosis(subject: subject, group: group),
            at: at)
        try book.event(fleet, at, "opened", "\(trouble) on \(instances) instances \(place)")
        try book.notify(fleet, "opened", at: at, delay: book.engine.groupWait, suppressed: false)
        try link(members, to: fleet, at: at)
    }

    /// Makes `members` part of `fleet`: linked, their pending notifications suppressed.
    private func link(_ members: [Int64], to fleet: Int64, at: Double) throws {
        for member in members {
            let domain = try book.attach(member, to: fleet)
            try book.event(member, at, "grouped", "part of fleet incident #\(fleet); its notifications are the fleet's")
            try book.event(fleet, at, "member", "\(domain) (incident #\(member))")
        }
        let severity = try book.refreshFleet(fleet, at: at)
        if severity.now > severity.previous {
            try book.notify(fleet, "escalated", at: at, delay: 0, suppressed: false)
        }
    }

    static func diagnosis(subject: String, group: Group) -> Diagnosis {
        let (kind, value) = split(subject)
        if value == "object_storage" || group.attribute == "object_storage_endpoint" {
            return Diagnosis(
                rule: "provider_incident",
                cause: group.attribute == "object_storage_endpoint"
                    ? "The object storage at \(group.value) fails for every instance using it: the provider's incident"
                    : "Object storage fails on many instances at once",
                evidence: ["\(kind) \(value) on instances sharing \(group.attribute) = \(group.value)"],
                nextStep:
                    "Check the provider's status page and open a ticket with them; nothing to restart on the instances",
                action: nil)
        }
        return Diagnosis(
            rule: "fleet_wide",
            cause: "\(value) fails on many instances at once; what they share: \(group.attribute) = \(group.value)",
            evidence: ["\(kind) \(value) on instances sharing \(group.attribute) = \(group.value)"],
            nextStep:
                "Look for the common cause (a provider, a network, a Mastodon upgrade) before remediating instances one by one",
            action: nil)
    }
}
