/// Every check the agent knows, in the order results are reported. Adding a check is adding a file
/// and a line here (Agent/README.md, "Adding a check").
public enum CheckRegistry {
    public static let all: [any Check] = [
        MastodonConfigCheck(),
        MastodonHTTPCheck(),
        APIProbeCheck(),
        ApplicationLogsCheck(),
        SidekiqCheck(),
        PostgresCheck(),
        NginxErrorLogCheck(),
        NginxAccessLogCheck(),
        ServicesCheck(),
        DiskCheck(),
        ResourcesCheck(),
        OOMCheck(),
        MediaCheck(),
    ]

    /// The checks `configuration` enables (an opt-in check, such as the API probe, only once configured
    /// or when named in `only`), or an error naming ids that do not exist.
    public static func enabled(by configuration: AgentConfiguration, only: [String] = []) throws(ConfigurationError)
        -> [any Check]
    {
        let known = Set(all.map(\.id))
        let named = (configuration.enabledChecks ?? []) + configuration.disabledChecks + only
        if let unknown = named.first(where: { !known.contains($0) }) {
            throw ConfigurationError("unknown check \(unknown); `herd-agent checks` lists them")
        }
        return all.filter { check in
            guard configuration.isEnabled(check.id) else { return false }
            return only.isEmpty ? check.isConfigured(by: configuration) : only.contains(check.id)
        }
    }
}
