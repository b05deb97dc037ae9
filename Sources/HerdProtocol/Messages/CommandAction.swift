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
    public enum ServiceName: String, Sendable, Hashable, CaseIterable {
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

    public init(json r: inout JSONReader) throws(WireError) {
        var type: String?, service: ServiceName?, days: Int?, dryRun: Bool?, pruneProfiles: Bool?
        var removeHeaders: Bool?
        try r.readObject { r, key throws(WireError) in
            switch key {
            case "type": type = try r.readString()
            case "service": service = try r.readEnum(ServiceName.self)
            case "days": days = try r.readInteger(Int.self, in: Int(Int32.min)...Int(Int32.max))
            case "dry_run": dryRun = try r.readBool()
            case "prune_profiles": pruneProfiles = try r.readBool()
            case "remove_headers": removeHeaders = try r.readBool()
            default: try r.skipValue()
            }
        }
        switch try r.required(type, "type") {
        case "restart_service":
            self = .restartService(try r.required(service, "service"))
        case "media_remove":
            self = .mediaRemove(
                MediaRemove(
                    days: try r.required(days, "days"), dryRun: try r.required(dryRun, "dry_run"),
                    pruneProfiles: try r.required(pruneProfiles, "prune_profiles"),
                    removeHeaders: try r.required(removeHeaders, "remove_headers")))
        case "preview_cards_remove":
            self = .previewCardsRemove(
                PreviewCardsRemove(days: try r.required(days, "days"), dryRun: try r.required(dryRun, "dry_run")))
        default:
            throw r.error("unsupported action type, expected one of \(Self.types.joined(separator: ", "))")
        }
    }

    public func write(to w: inout JSONWriter) {
        w.object { w in
            switch self {
            case .restartService(let service):
                w.field("service", service.rawValue)
            case .mediaRemove(let p):
                w.field("days", p.days)
                w.field("dry_run", p.dryRun)
                w.field("prune_profiles", p.pruneProfiles)
                w.field("remove_headers", p.removeHeaders)
            case .previewCardsRemove(let p):
                w.field("days", p.days)
                w.field("dry_run", p.dryRun)
            }
            w.field("type", type)
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
