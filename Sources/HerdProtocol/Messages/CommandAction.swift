/// A remediation action with typed, bounded parameters: never a string to execute. The agent maps
/// each case to a fixed argv from its own catalogue and allowlist.
///
/// On the wire an object with a `type` discriminator and the parameters beside it:
/// `{"type": "media_remove", "days": 7, "dry_run": true, "prune_profiles": false, "remove_headers": false}`.
/// A closed set: an unknown `type` fails decoding (`malformed`), because an agent must never run
/// something it does not understand.
public enum CommandAction: WireMessage, Hashable {
    case restartService(ServiceName)
    case mediaRemove(MediaRemove)
    case previewCardsRemove(PreviewCardsRemove)

    /// What `restart_service` may touch. `streaming` restarts every `mastodon-streaming@PORT`; `nginx` reloads.
    public enum ServiceName: String, Codable, Sendable, Hashable, CaseIterable {
        case web, sidekiq, streaming, nginx
    }

    /// `tootctl media remove`: days 1…365.
    public struct MediaRemove: Sendable, Hashable {
        public static let days: ClosedRange<Int> = 1...365
        public var days: Int
        public var dryRun: Bool
        public var pruneProfiles: Bool
        public var removeHeaders: Bool
        public init(days: Int, dryRun: Bool = false, pruneProfiles: Bool = false, removeHeaders: Bool = false) {
            self.days = days
            self.dryRun = dryRun
            self.pruneProfiles = pruneProfiles
            self.removeHeaders = removeHeaders
        }
    }

    /// `tootctl preview_cards remove`: days 14…365 (Mastodon refuses fewer).
    public struct PreviewCardsRemove: Sendable, Hashable {
        public static let days: ClosedRange<Int> = 14...365
        public var days: Int
        public var dryRun: Bool
        public init(days: Int, dryRun: Bool = false) {
            self.days = days
            self.dryRun = dryRun
        }
    }

    /// The wire name of the action, also used in allowlists and rate limits.
    public var type: String {
        switch self {
        case .restartService: "restart_service"
        case .mediaRemove: "media_remove"
        case .previewCardsRemove: "preview_cards_remove"
        }
    }

    public static let types = ["restart_service", "media_remove", "preview_cards_remove"]

    enum CodingKeys: String, CodingKey {
        case type, service, days, dryRun = "dry_run", pruneProfiles = "prune_profiles"
        case removeHeaders = "remove_headers"
    }

    /// A parameter its `type` needs and the object lacks is `malformed`, like any missing field.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "restart_service":
            self = .restartService(try c.decode(ServiceName.self, forKey: .service))
        case "media_remove":
            self = .mediaRemove(
                MediaRemove(
                    days: try c.decode(Int.self, forKey: .days), dryRun: try c.decode(Bool.self, forKey: .dryRun),
                    pruneProfiles: try c.decode(Bool.self, forKey: .pruneProfiles),
                    removeHeaders: try c.decode(Bool.self, forKey: .removeHeaders)))
        case "preview_cards_remove":
            self = .previewCardsRemove(
                PreviewCardsRemove(
                    days: try c.decode(Int.self, forKey: .days), dryRun: try c.decode(Bool.self, forKey: .dryRun)))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type, in: c,
                debugDescription: "unsupported action type, expected one of \(Self.types.joined(separator: ", "))")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        switch self {
        case .restartService(let service):
            try c.encode(service, forKey: .service)
        case .mediaRemove(let p):
            try c.encode(p.days, forKey: .days)
            try c.encode(p.dryRun, forKey: .dryRun)
            try c.encode(p.pruneProfiles, forKey: .pruneProfiles)
            try c.encode(p.removeHeaders, forKey: .removeHeaders)
        case .previewCardsRemove(let p):
            try c.encode(p.days, forKey: .days)
            try c.encode(p.dryRun, forKey: .dryRun)
        }
    }

    public func validate() throws(WireError) {
        try validate(at: "action")
    }

    func validate(at path: @autoclosure () -> String) throws(WireError) {
        switch self {
        case .restartService:
            return
        case .mediaRemove(let p):
            guard MediaRemove.days.contains(p.days) else { throw .invalid("\(path()).days", "must be 1 to 365") }
        case .previewCardsRemove(let p):
            guard PreviewCardsRemove.days.contains(p.days) else {
                throw .invalid("\(path()).days", "must be 14 to 365")
            }
        }
    }
}
