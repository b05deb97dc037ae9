/// What part of an instance an agent's host runs. `all` is the whole instance on one host; the others
/// are the parts of an instance split over several hosts, each with its own agent (Agent/README.md,
/// "Topologies"). The role is fixed when the agent enrolls.
public enum AgentRole: String, Sendable, Hashable, Codable, CaseIterable {
    case all, db, redis, web, sidekiq, streaming

    /// The services (as `restart_service` names them) a host of this role runs.
    public var services: Set<CommandAction.ServiceName> {
        switch self {
        case .all: [.web, .sidekiq, .streaming, .nginx]
        case .db, .redis: []
        case .web: [.web, .nginx]
        case .sidekiq: [.sidekiq]
        case .streaming: [.streaming, .nginx]
        }
    }

    /// Whether a host of this role can carry out `action`: a service it runs, or tootctl where Mastodon's
    /// code and `.env.production` are (web and Sidekiq hosts).
    public func canRun(_ action: CommandAction) -> Bool {
        switch action {
        case .restartService(let service): services.contains(service)
        case .mediaRemove, .previewCardsRemove: [.all, .web, .sidekiq].contains(self)
        }
    }

    /// The label a split instance's checks carry for this host, `disk@LABEL`: the host name up to its
    /// first dot, lowercased (`db-1` for `DB-1.fra1.example.net`).
    public static func hostLabel(_ hostname: String) -> String {
        String(hostname.prefix { $0 != "." }).lowercased()
    }
}
