import HerdProtocol

/// Configuration discovery, the ground every step stands on: the installation's `.env.production`
/// (parsed as dotenv does, never executed; no value ever leaves the host) and its version from
/// `lib/mastodon/version.rb`. Warns when the file is missing or has lines dotenv would not read.
public struct MastodonConfigCheck: BlockingCheck {
    public let id = "mastodon.config"
    public let title = "Mastodon installation: .env.production readable and well-formed, version, media storage"
    public let playbookStep = "0 · know the installation (configuration discovery)"

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        Self.evaluate(context.mastodon)
    }

    static func evaluate(_ mastodon: MastodonInstallation) -> CheckOutcome {
        var metrics: [String: Double] = [:]
        var parts: [String] = []
        var status = CheckStatus.ok
        if let version = mastodon.version {
            parts.append("Mastodon \(version)")
            metrics["version.major"] = Double(version.major)
            metrics["version.minor"] = Double(version.minor)
            metrics["version.patch"] = Double(version.patch)
        } else {
            parts.append("Mastodon version unknown (no lib/mastodon/version.rb in \(mastodon.liveDirectory))")
            status = .warning
        }
        if let env = mastodon.env {
            metrics["env.keys"] = Double(env.values.count)
            metrics["env.problems"] = Double(env.problems.count)
            if let domain = env["LOCAL_DOMAIN"] { parts.append("LOCAL_DOMAIN \(domain)") }
            if !env.problems.isEmpty {
                status = .warning
                parts.append("\(mastodon.envFile) lines not read: \(env.problems.prefix(5).joined(separator: ", "))")
            }
            if let endpoint = mastodon.objectStorageEndpoint {
                parts.append("media in object storage at \(endpoint)")
            } else {
                parts.append("media on local disk at \(mastodon.mediaDirectory)")
            }
        } else {
            status = .warning
            parts.append("cannot read \(mastodon.envProblem ?? mastodon.envFile)")
        }
        return CheckOutcome(status, parts.joined(separator: ", "), metrics: metrics)
    }
}
