import HerdProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// One `[DOMAIN]` section of the agent's configuration: an instance this agent watches and the settings
/// that are its own (its live directory, units, logs, URLs); every other setting is the file's.
public struct InstanceSection: Sendable, Hashable {
    public var domain: String
    public var entries: [KeyValueFile.Entry]
}

/// An instance the agent watches: its domain (nil for the one instance of a single-instance
/// configuration, which enrollment names), `%i`'s value in its settings, and its settings.
public struct WatchedInstance: Sendable {
    public var domain: String?
    public var key: String
    public var configuration: AgentConfiguration
}

extension AgentConfiguration {
    /// Settings of the host, not of one instance: refused in a `[DOMAIN]` section.
    static let hostKeys: Set<String> = [
        "interval", "state_dir", "host_root", "command_path", "role", "hostname", "instances.discover",
        "instances.discover_compose",
        "checks.timeout", "logs.max_bytes_per_cycle", "logs.journal_directory", "logs.signature_files", "docker.socket",
        "memory.warning_available_percent", "memory.critical_available_percent", "pressure.warning_percent",
        "kernel_log", "services.timeout", "remediation.allowlist", "remediation.trust", "remediation.poll",
    ]

    /// The checks that read the host as a whole (memory, pressure, the kernel log): run once per cycle for
    /// every instance on it, however many it watches.
    public static let hostChecks: Set<String> = ["resources", "oom"]

    /// Whether this agent watches several instances (sections or discovery) rather than one.
    public var watchesSeveral: Bool { !instanceSections.isEmpty || !discoverInstances.isEmpty || discoverCompose }

    /// This configuration with `section`'s settings on top, or the line of the first it refuses.
    /// This configuration as one instance's: without the sections and discovery that name instances.
    var single: AgentConfiguration {
        var single = self
        single.instanceSections = []
        single.discoverInstances = []
        single.discoverCompose = false
        return single
    }

    func applying(_ section: InstanceSection, source: String) throws(ConfigurationError) -> AgentConfiguration {
        var configuration = single
        for entry in section.entries {
            guard !Self.hostKeys.contains(entry.key) else {
                throw ConfigurationError(
                    "\(source):\(entry.line): \(entry.key) is the host's, not one instance's: set it before the first section"
                )
            }
            do {
                try configuration.set(entry.key, entry.value)
            } catch {
                throw ConfigurationError("\(source):\(entry.line): \(error.description)")
            }
        }
        return configuration
    }

    /// Every `%i` in the settings replaced by `key` (`units.web = mastodon-web@%i.service`).
    func expanding(_ key: String) throws(ConfigurationError) -> AgentConfiguration {
        let text = render()
        guard text.contains("%i") else { return self }
        return try Self.parse(text.replacing("%i", with: key), source: "(instance \(key))").single
    }
}

/// The instances an agent watches: its `[DOMAIN]` sections and the live directories `instances.discover`
/// finds, or the one instance of a configuration with neither. Each gets its own state directory
/// (`state_dir/instances/DOMAIN`: identity, outbox, check memory) and loses the host checks, which the
/// agent runs once for all of them.
public enum HostInstances {
    public struct Resolved: Sendable {
        public var instances: [WatchedInstance]
        /// Live directories discovery skipped and checks turned off, and why (logged by the daemon).
        public var notes: [String]
    }

    public static func resolve(_ configuration: AgentConfiguration, source: String = "agent.conf")
        throws(ConfigurationError) -> Resolved
    {
        guard configuration.watchesSeveral else {
            return Resolved(
                instances: [WatchedInstance(domain: nil, key: "", configuration: configuration)], notes: [])
        }
        let filesystem = HostFilesystem(root: configuration.hostRoot)
        let base = configuration.single
        var found: [(domain: String, key: String, configuration: AgentConfiguration)] = []
        var notes: [String] = []
        // Live directories: those the patterns match, then each compose project's directory.
        var candidates: [(live: String, project: String?)] = configuration.discoverInstances.flatMap { pattern in
            glob(pattern, filesystem: filesystem).map { ($0, nil) }
        }
        if configuration.discoverCompose {
            if let socket = configuration.dockerSocket {
                do {
                    for (project, directory) in try DockerUnits.projects(
                        engine: DockerEngine(socketPath: socket), timeout: configuration.serviceTimeout)
                    {
                        guard let directory, directory.hasPrefix("/") else {
                            notes.append(
                                "compose project \(project.escapingControlCharacters): no working directory label")
                            continue
                        }
                        candidates.append((directory, project))
                    }
                } catch {
                    notes.append("compose projects not discovered: \(error)")
                }
            } else {
                notes.append("instances.discover_compose needs docker.socket")
            }
        }
        for (live, project) in candidates {
            var candidate = base
            candidate.mastodonLiveDirectory = live
            candidate.mastodonEnvFileOverride = nil
            if let project { candidate.dockerProject = project }
            let installation = MastodonInstallation.discover(candidate, filesystem: filesystem)
            guard let domain = installation["LOCAL_DOMAIN"]?.lowercased() else {
                notes.append("\(live): no LOCAL_DOMAIN in \(candidate.mastodonEnvFile)")
                continue
            }
            guard Rule.isInstanceName(domain) else {
                notes.append("\(live): LOCAL_DOMAIN is not a lowercase DNS name")
                continue
            }
            guard !found.contains(where: { $0.domain == domain }) else {
                notes.append("\(live): \(domain) is watched already")
                continue
            }
            let parts = live.split(separator: "/")
            let key =
                project
                ?? String(parts.last == "live" && parts.count > 1 ? parts[parts.count - 2] : parts.last ?? "")
            found.append((domain, key, candidate))
        }
        for section in configuration.instanceSections {
            if let index = found.firstIndex(where: { $0.domain == section.domain }) {
                found[index].configuration = try found[index].configuration.applying(section, source: source)
            } else {
                let key = String(section.domain.prefix { $0 != "." })
                found.append((section.domain, key, try base.applying(section, source: source)))
            }
        }
        var instances: [WatchedInstance] = []
        for (domain, key, configuration) in found {
            var instance = try configuration.expanding(key)
            instance.stateDirectory = base.stateDirectory + "/instances/" + domain
            instance.disabledChecks += AgentConfiguration.hostChecks.sorted()
            instances.append(WatchedInstance(domain: domain, key: key, configuration: instance))
        }
        // An nginx log several instances share says nothing of which one failed: per-site logs
        // (`access_log` in each server block) or no nginx checks.
        for (check, path) in [
            ("nginx.error_log", \AgentConfiguration.nginxErrorLog), ("nginx.access_log", \.nginxAccessLog),
        ] {
            let shared = Dictionary(grouping: instances.indices) { instances[$0].configuration[keyPath: path] }
                .filter { $0.value.count > 1 }
            for (file, indices) in shared.sorted(by: { $0.key < $1.key }) {
                for index in indices where instances[index].configuration.isEnabled(check) {
                    instances[index].configuration.disabledChecks.append(check)
                }
                notes.append("\(check) is off for \(indices.count) instances that share \(file): give each its own")
            }
        }
        return Resolved(instances: instances, notes: notes)
    }

    /// The configuration of the checks run once for the host: the host checks the file enables.
    public static func hostConfiguration(_ configuration: AgentConfiguration) -> AgentConfiguration {
        var host = configuration.single
        host.stateDirectory = configuration.stateDirectory + "/host"
        host.enabledChecks = AgentConfiguration.hostChecks.filter(configuration.isEnabled).sorted()
        return host
    }

    /// Existing directories matching `pattern` (glob(3): `*`, `?`, `[…]`) under the host root, as host
    /// paths, sorted.
    static func glob(_ pattern: String, filesystem: HostFilesystem) -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        guard Glibc.glob(filesystem.resolve(pattern), GLOB_ONLYDIR, nil, &matches) == 0 else { return [] }
        var paths: [String] = []
        let prefix = filesystem.root == "/" ? "" : filesystem.root
        for index in 0..<Int(matches.gl_pathc) {
            guard let raw = matches.gl_pathv[index] else { continue }
            let path = String(cString: raw)
            guard path.hasPrefix(prefix) else { continue }
            paths.append(String(path.dropFirst(prefix.count)))
        }
        return paths.sorted()
    }
}
