/// The Mastodon installation as the agent finds it on the host: its `.env.production` (parsed, never
/// executed) and its version from `lib/mastodon/version.rb`. Loaded once per cycle, shared by checks.
public struct MastodonInstallation: Sendable, Hashable {
    public var liveDirectory: String
    public var envFile: String
    /// Nil when the file could not be read; `envProblem` says why.
    public var env: DotEnv?
    public var envProblem: String?
    public var version: MastodonVersion?

    public init(liveDirectory: String, envFile: String, env: DotEnv?, envProblem: String?, version: MastodonVersion?) {
        self.liveDirectory = liveDirectory
        self.envFile = envFile
        self.env = env
        self.envProblem = envProblem
        self.version = version
    }

    public static func discover(_ configuration: AgentConfiguration, filesystem: HostFilesystem)
        -> MastodonInstallation
    {
        var env: DotEnv?
        var problem: String?
        do {
            env = DotEnv.parse(try filesystem.readText(configuration.mastodonEnvFile, maxBytes: 256 * 1024))
        } catch {
            problem = error.description
        }
        let versionFile = configuration.mastodonLiveDirectory + "/lib/mastodon/version.rb"
        let version = (try? filesystem.readText(versionFile, maxBytes: 64 * 1024)).flatMap(
            MastodonVersion.init(versionRB:))
        return MastodonInstallation(
            liveDirectory: configuration.mastodonLiveDirectory, envFile: configuration.mastodonEnvFile, env: env,
            envProblem: problem, version: version)
    }

    public subscript(key: String) -> String? { env?[key] }

    /// `true`/`false` the way Mastodon reads its flags (`ENV['S3_ENABLED'] == 'true'`).
    public func flag(_ key: String) -> Bool? {
        guard let value = self[key] else { return nil }
        return value == "true"
    }

    /// Where local media lives on the host: `PAPERCLIP_ROOT_PATH` or `public/system`.
    public var mediaDirectory: String {
        if let root = self["PAPERCLIP_ROOT_PATH"], root.hasPrefix("/") { return root }
        return liveDirectory + "/public/system"
    }

    /// The object-storage endpoint host (never credentials), for fleet grouping.
    public var objectStorageEndpoint: String? {
        guard flag("S3_ENABLED") == true else { return nil }
        if let endpoint = self["S3_ENDPOINT"], !endpoint.isEmpty {
            var host = Substring(endpoint)
            if let scheme = host.firstRange(of: "://") { host = host[scheme.upperBound...] }
            if let at = host.lastIndex(of: "@") { host = host[host.index(after: at)...] }
            return String(host.prefix { $0 != "/" && $0 != "?" }).lowercased()
        }
        return self["S3_HOSTNAME"].map { $0.lowercased() }
            ?? self["S3_REGION"].map { "s3.\($0).amazonaws.com" }
    }
}

/// `major.minor.patch[-prerelease]`.
public struct MastodonVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    public var prerelease: String?

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0, prerelease: String? = nil) {
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
    }

    public var description: String {
        "\(major).\(minor).\(patch)" + (prerelease.map { "-\($0)" } ?? "")
    }

    /// Reads `def major` / `def minor` / `def patch` and `def default_prerelease` from version.rb.
    public init?(versionRB text: String) {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: " \t") }
        func value(after name: String) -> Substring? {
            guard let i = lines.firstIndex(of: "def \(name)"), i + 1 < lines.count else { return nil }
            return lines[i + 1]
        }
        guard let major = value(after: "major").flatMap({ Int($0) }),
            let minor = value(after: "minor").flatMap({ Int($0) }),
            let patch = value(after: "patch").flatMap({ Int($0) })
        else { return nil }
        var prerelease: String?
        if let raw = value(after: "default_prerelease") ?? value(after: "prerelease"),
            raw.first == "'" || raw.first == "\"", raw.count > 2
        {
            prerelease = String(raw.dropFirst().dropLast())
        }
        self.init(major, minor, patch, prerelease: prerelease)
    }

    public static func < (a: MastodonVersion, b: MastodonVersion) -> Bool {
        (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return s
    }
}
