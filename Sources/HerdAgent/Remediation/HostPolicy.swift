import Crypto
import FoundationEssentials
import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Why the host's policy files cannot be used. Every command is refused while they cannot.
public struct HostPolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The host's own word on remediation, from two files only root can change: the **allowlist** (which
/// actions, which parameters, how often) and the **trust file** (which operator keys, how many
/// approvals per risk class, how long a command may be valid). The controller cannot change either;
/// the agent only reads them (Agent/README.md §Remediation).
public struct HostPolicy: Sendable {
    public var allowlist: Allowlist
    public var trust: TrustList

    public init(allowlist: Allowlist, trust: TrustList) {
        self.allowlist = allowlist
        self.trust = trust
    }

    /// Reads both files, refusing any that is not a regular file owned by root (uid `owner`), writable by
    /// its owner alone, in a directory that is root's and writable by root alone.
    public static func load(allowlist: String, trust: String, owner: uid_t = 0) throws(HostPolicyError) -> HostPolicy {
        HostPolicy(
            allowlist: try Allowlist.parse(try read(allowlist, owner: owner), source: allowlist),
            trust: try TrustList.parse(try read(trust, owner: owner), source: trust))
    }

    static func read(_ path: String, owner: uid_t) throws(HostPolicyError) -> String {
        for (item, what) in [
            (path, "file"), (String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]), "directory"),
        ] {
            var info = stat()
            guard lstat(item.isEmpty ? "/" : item, &info) == 0 else {
                throw HostPolicyError("\(path): \(String(cString: strerror(errno)))")
            }
            let kind = info.st_mode & S_IFMT
            guard kind == (what == "file" ? S_IFREG : S_IFDIR) else {
                throw HostPolicyError("\(item) is not a regular \(what)")
            }
            guard info.st_uid == owner else {
                throw HostPolicyError("\(item) must belong to root (uid \(owner)), not uid \(info.st_uid)")
            }
            guard info.st_mode & 0o022 == 0 else {
                throw HostPolicyError("\(item) is writable by its group or by others; only root may change it")
            }
        }
        do {
            return try SecureFile.readText(path, maxBytes: 64 << 10)
        } catch {
            throw HostPolicyError("\(path): \(error)")
        }
    }

    static func entries(_ text: String, source: String) throws(HostPolicyError) -> [KeyValueFile.Entry] {
        do {
            return try KeyValueFile.parse(text)
        } catch {
            throw HostPolicyError("\(source):\(error.line): \(error.problem)")
        }
    }
}

/// `N/PERIOD`: at most N in any window of PERIOD (`3/1h`, `2/1d`, `10/30m`).
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    public var count: Int
    public var window: Double

    public init(count: Int, window: Double) {
        self.count = count
        self.window = window
    }

    init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let count = Int(parts[0].trimmed()), (1...1000).contains(count) else { return nil }
        guard let period = DurationText.parse(String(parts[1].trimmed()), in: .seconds(60)...(.seconds(30 * 86_400)))
        else { return nil }
        self.init(count: count, window: Double(period.components.seconds))
    }

    public var description: String {
        "\(count)/\(DurationText.format(.seconds(Int64(window))))"
    }
}

/// The allowlist file (`remediation.allowlist`, example in Agent/allowlist.conf.example): an action not
/// named is not allowed; a parameter outside the host's range is not allowed.
///
/// ```
/// restart_service = web, sidekiq, streaming, nginx
/// restart_service.limit = 3/1h          # per service
/// media_remove.days = 7-30
/// media_remove.prune_profiles = false   # may a command ask for --prune-profiles?
/// media_remove.remove_headers = false
/// media_remove.limit = 2/1d
/// preview_cards_remove.days = 30-365
/// preview_cards_remove.limit = 2/1d
/// dry_run.limit = 20/1h                 # dry runs of any action, together
/// ```
public struct Allowlist: Sendable, Hashable {
    public var services: Set<CommandAction.ServiceName> = []
    public var mediaRemoveDays: ClosedRange<Int>?
    public var mediaRemovePruneProfiles = false
    public var mediaRemoveHeaders = false
    public var previewCardsDays: ClosedRange<Int>?
    public var limits: [String: RateLimit] = [
        "restart_service": RateLimit(count: 3, window: 3600), "media_remove": RateLimit(count: 2, window: 86_400),
        "preview_cards_remove": RateLimit(count: 2, window: 86_400), "dry_run": RateLimit(count: 20, window: 3600),
    ]

    public init() {}

    public static func parse(_ text: String, source: String) throws(HostPolicyError) -> Allowlist {
        var list = Allowlist()
        for entry in try HostPolicy.entries(text, source: source) {
            func fail(_ problem: String) -> HostPolicyError { HostPolicyError("\(source):\(entry.line): \(problem)") }
            func range(_ bounds: ClosedRange<Int>) throws(HostPolicyError) -> ClosedRange<Int> {
                let parts = entry.value.split(separator: "-").compactMap { Int($0.trimmed()) }
                guard parts.count == 2, parts[0] <= parts[1], bounds.contains(parts[0]), bounds.contains(parts[1])
                else {
                    throw fail("\(entry.key) is LOW-HIGH within \(bounds.lowerBound)-\(bounds.upperBound)")
                }
                return parts[0]...parts[1]
            }
            func flag() throws(HostPolicyError) -> Bool {
                switch entry.value {
                case "true": return true
                case "false": return false
                default: throw fail("\(entry.key) is true or false")
                }
            }
            switch entry.key {
            case "restart_service":
                for name in entry.value.split(separator: ",").map({ String($0.trimmed()) }) where !name.isEmpty {
                    guard let service = CommandAction.ServiceName(rawValue: name) else {
                        throw fail("unknown service \(name) (web, sidekiq, streaming, nginx)")
                    }
                    list.services.insert(service)
                }
            case "media_remove.days": list.mediaRemoveDays = try range(CommandAction.MediaRemove.days)
            case "media_remove.prune_profiles": list.mediaRemovePruneProfiles = try flag()
            case "media_remove.remove_headers": list.mediaRemoveHeaders = try flag()
            case "preview_cards_remove.days": list.previewCardsDays = try range(CommandAction.PreviewCardsRemove.days)
            case "restart_service.limit", "media_remove.limit", "preview_cards_remove.limit", "dry_run.limit":
                guard let limit = RateLimit(entry.value) else { throw fail("\(entry.key) is N/PERIOD, e.g. 3/1h") }
                list.limits[String(entry.key.dropLast(".limit".count))] = limit
            default:
                throw fail("unknown key \(entry.key)")
            }
        }
        return list
    }

    /// nil when allowed, else why not.
    public func refusal(for action: CommandAction) -> String? {
        switch action {
        case .restartService(let service):
            return services.contains(service)
                ? nil : "restart_service of \(service.rawValue) is not in this host's allowlist"
        case .mediaRemove(let p):
            guard let days = mediaRemoveDays else { return "media_remove is not in this host's allowlist" }
            if !days.contains(p.days) { return "media_remove days \(p.days) outside this host's \(days)" }
            if p.pruneProfiles && !mediaRemovePruneProfiles {
                return "media_remove --prune-profiles is not allowed here"
            }
            if p.removeHeaders && !mediaRemoveHeaders { return "media_remove --remove-headers is not allowed here" }
            return nil
        case .previewCardsRemove(let p):
            guard let days = previewCardsDays else { return "preview_cards_remove is not in this host's allowlist" }
            return days.contains(p.days) ? nil : "preview_cards_remove days \(p.days) outside this host's \(days)"
        }
    }

    /// What a run counts against: dry runs together, restarts per service, other actions per action.
    public func rateKey(for action: CommandAction) -> (key: String, limit: RateLimit?) {
        if action.risk == .preview { return ("dry_run", limits["dry_run"]) }
        if case .restartService(let service) = action {
            return ("restart_service.\(service.rawValue)", limits["restart_service"])
        }
        return (action.type, limits[action.type])
    }
}

/// The trust file (`remediation.trust`, example in Agent/trust.conf.example): operators' Ed25519 public
/// keys (`herdctl operators trust-line` prints one), approvals per risk class, the longest validity.
///
/// ```
/// operator.alice = 9pFQ1…base64 of the 32 raw public key bytes…=
/// approvals.preview = 0
/// approvals.routine = 1
/// approvals.destructive = 2
/// max_ttl = 600s
/// ```
public struct TrustList: Sendable {
    public var keys: [KeyID: Curve25519.Signing.PublicKey] = [:]
    public var names: [KeyID: String] = [:]
    public var approvals: [CommandAction.Risk: Int] = [.preview: 0, .routine: 1, .destructive: 2]
    public var maxTTL: Double = 600

    public init() {}

    public static func parse(_ text: String, source: String) throws(HostPolicyError) -> TrustList {
        var trust = TrustList()
        for entry in try HostPolicy.entries(text, source: source) {
            func fail(_ problem: String) -> HostPolicyError { HostPolicyError("\(source):\(entry.line): \(problem)") }
            if entry.key.hasPrefix("operator.") {
                let name = String(entry.key.dropFirst("operator.".count))
                guard Rule.isIdentifier(name) else { throw fail("operator names are identifiers") }
                guard let raw = Base64.decode(entry.value), raw.count == 32,
                    let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
                else { throw fail("\(entry.key) is a base64 Ed25519 public key (32 bytes)") }
                trust.keys[KeyID(publicKey: key)] = key
                trust.names[KeyID(publicKey: key)] = name
                continue
            }
            switch entry.key {
            case "approvals.preview", "approvals.routine", "approvals.destructive":
                let risk = CommandAction.Risk(rawValue: String(entry.key.dropFirst("approvals.".count)))!
                guard let n = Int(entry.value), (risk == .preview ? 0 : 1)...5 ~= n else {
                    throw fail("\(entry.key) is \(risk == .preview ? 0 : 1) to 5")
                }
                trust.approvals[risk] = n
            case "max_ttl":
                guard let ttl = DurationText.parse(entry.value, in: .seconds(60)...(.seconds(3600))) else {
                    throw fail("max_ttl: \(DurationText.expected(.seconds(60)...(.seconds(3600))))")
                }
                trust.maxTTL = Double(ttl.components.seconds)
            default:
                throw fail("unknown key \(entry.key)")
            }
        }
        return trust
    }
}
