import HerdProtocol

/// The playbook's "fails only with media" step: ffmpeg and ffprobe present and runnable, the image library the installed Mastodon uses (libvips from
/// 4.4 unless `MASTODON_USE_LIBVIPS=false`, ImageMagick before, libvips only from 4.6), and local media
/// (`PAPERCLIP_ROOT_PATH`, default `public/system`) owned by and writable for the mastodon user —
/// skipped, with the reason, when media lives in object storage (`S3_ENABLED=true`).
///
/// Only commands found on the agent's own `command_path` are run. `FFMPEG_BINARY` and `FFPROBE_BINARY`
/// come from `.env.production`, a file the mastodon user writes: a path there is inspected (it exists,
/// is an executable file, who owns it) and never executed, or whoever controls that account would run
/// code as the agent, with its keys and its rights to restart services.
public struct MediaCheck: BlockingCheck {
    public let id = "media"
    public let title = "ffmpeg, ffprobe and the image library; media directory ownership and permissions"
    public let playbookStep = "8 · ffmpeg and media permissions"

    static let mediaSubdirectories = ["cache", "media_attachments", "accounts", "custom_emojis", "site_uploads"]

    public init() {}

    struct Tool: Hashable {
        var name: String
        var executable: String
        var arguments: [String]
        /// The `.env.production` key that may name another file for it.
        var envKey: String?
    }

    enum ImageLibrary: String {
        case vips, imagemagick
    }

    /// Which image library this Mastodon uses.
    static func imageLibrary(version: MastodonVersion?, useLibvips: String?) -> ImageLibrary {
        if let version, version >= MastodonVersion(4, 6) { return .vips }
        if useLibvips == "true" { return .vips }
        if useLibvips == "false" { return .imagemagick }
        guard let version else { return .vips }
        return version >= MastodonVersion(4, 4) ? .vips : .imagemagick
    }

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        let mastodon = context.mastodon
        let library = Self.imageLibrary(version: mastodon.version, useLibvips: mastodon["MASTODON_USE_LIBVIPS"])
        var tools = [
            Tool(name: "ffmpeg", executable: "ffmpeg", arguments: ["-version"], envKey: "FFMPEG_BINARY"),
            Tool(name: "ffprobe", executable: "ffprobe", arguments: ["-version"], envKey: "FFPROBE_BINARY"),
        ]
        switch library {
        case .vips: tools.append(Tool(name: "vips", executable: "vips", arguments: ["--version"]))
        case .imagemagick: tools.append(Tool(name: "imagemagick", executable: "convert", arguments: ["-version"]))
        }
        var versions: [String: Result<String, HostError>] = [:]
        for tool in tools {
            if let key = tool.envKey, let named = mastodon[key], !named.isEmpty {
                if named.contains("/") {
                    // A path Mastodon's user chose: look at it, never run it.
                    let path = named.hasPrefix("/") ? named : mastodon.liveDirectory + "/" + named
                    versions[tool.name] = Result { () throws(HostError) -> String in
                        try Self.inspect(path, key: key, filesystem: context.filesystem)
                    }
                    continue
                }
                // A bare name: Mastodon finds it on its PATH; the agent runs only what its own has.
                versions[tool.name] = Result { () throws(HostError) -> String in
                    try Self.run(Tool(name: tool.name, executable: named, arguments: tool.arguments), in: context)
                }
                continue
            }
            versions[tool.name] = Result { () throws(HostError) -> String in try Self.run(tool, in: context) }
        }

        var permissions: Result<[String], HostError>?
        if mastodon.flag("S3_ENABLED") != true {
            permissions = Result { () throws(HostError) -> [String] in
                try Self.permissionProblems(
                    in: mastodon.mediaDirectory, user: context.configuration.mastodonUser,
                    filesystem: context.filesystem)
            }
        }
        return Self.evaluate(
            tools: tools, versions: versions, permissions: permissions, mediaDirectory: mastodon.mediaDirectory)
    }

    /// `tool -version` from the agent's `command_path` (a name, never a path): its version.
    static func run(_ tool: Tool, in context: CheckContext) throws(HostError) -> String {
        guard !tool.executable.contains("/") else {
            throw HostError(.invalid, "\(tool.executable): only commands on command_path are run")
        }
        let outcome = try context.host.processes.run(
            context.command(tool.executable, tool.arguments, maxOutputBytes: 64 * 1024))
        guard outcome.succeeded else {
            throw HostError(.failed, "\(tool.executable) \(tool.arguments[0]) exited with \(outcome.termination)")
        }
        return version(of: tool.name, output: String(decoding: outcome.stdout.prefix(4096), as: UTF8.self))
    }

    /// What `.env.production` names for a tool, looked at and not run: a missing file or one nobody may
    /// execute breaks Mastodon's media; one that others than root may change is said so.
    static func inspect(_ path: String, key: String, filesystem: HostFilesystem) throws(HostError) -> String {
        let status: HostFilesystem.Status
        do {
            status = try filesystem.status(path)
        } catch {
            throw HostError(error.kind, "\(key): \(error.description)")
        }
        guard status.isRegularFile, status.permissions & 0o111 != 0 else {
            throw HostError(.failed, "\(key)=\(path) is not an executable file")
        }
        var facts = ["\(path) from \(key), not run by the agent"]
        if status.uid != 0 { facts.append("owned by uid \(status.uid)") }
        if status.permissions & 0o022 != 0 { facts.append("mode \(String(status.permissions, radix: 8))") }
        return facts.joined(separator: ", ")
    }

    static func evaluate(
        tools: [Tool], versions: [String: Result<String, HostError>], permissions: Result<[String], HostError>?,
        mediaDirectory: String
    ) -> CheckOutcome {
        var status = CheckStatus.ok
        var metrics: [String: Double] = [:]
        var findings: [Finding] = []
        var found: [String] = []
        var problems: [String] = []
        for tool in tools {
            switch versions[tool.name] {
            case .success(let version)?:
                metrics["\(tool.name).present"] = 1
                found.append("\(tool.name) \(version)")
            case .failure(let error)?:
                metrics["\(tool.name).present"] = 0
                status = .critical
                let what = error.kind == .notFound ? "\(tool.name) missing" : "\(tool.name) not runnable"
                problems.append("\(what) (\(error))")
                findings.append(
                    Finding(category: .mediaProcessing, signature: what, count: 1, sample: error.description))
            case nil:
                break
            }
        }
        switch permissions {
        case nil:
            found.append("media in object storage (S3_ENABLED=true): local permissions not checked")
        case .success(let issues)?:
            metrics["media_dir.writable"] = issues.isEmpty ? 1 : 0
            if !issues.isEmpty {
                status = .critical
                problems += issues
                findings.append(
                    Finding(
                        category: .permissionDenied, signature: "media directory not writable by mastodon",
                        count: UInt64(issues.count), sample: issues[0]))
            }
        case .failure(let error)?:
            if error.kind == .notFound {
                status = max(status, .warning)
                problems.append(
                    "\(mediaDirectory) does not exist (no local media yet, or PAPERCLIP_ROOT_PATH is wrong)")
            } else {
                status = max(status, .warning)
                problems.append(error.description)
            }
        }
        let summary = (problems + found).joined(separator: "; ")
        return CheckOutcome(status, summary, metrics: metrics, findings: findings)
    }

    /// `ffmpeg version 5.1.6-0+deb12u1 …`, `vips-8.14.1`, `Version: ImageMagick 6.9.11-60 Q16 …`.
    static func version(of tool: String, output: String) -> String {
        let line = output.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let words = line.split(separator: " ")
        switch tool {
        case "vips": return line.hasPrefix("vips-") ? String(words.first?.dropFirst(5) ?? "") : String(line.prefix(40))
        case "imagemagick": return words.count > 2 ? String(words[2]) : String(line.prefix(40))
        default: return words.count > 2 && words[1] == "version" ? String(words[2]) : String(line.prefix(40))
        }
    }

    /// Directories under the media root that the mastodon user does not own or cannot write.
    static func permissionProblems(in root: String, user name: String, filesystem: HostFilesystem) throws(HostError)
        -> [String]
    {
        guard let user = try filesystem.user(named: name) else {
            throw HostError(.notFound, "user \(name) not in /etc/passwd")
        }
        var problems: [String] = []
        for directory in [root] + mediaSubdirectories.map({ "\(root)/\($0)" }) {
            let status: HostFilesystem.Status
            do {
                status = try filesystem.status(directory)
            } catch  where error.kind == .notFound && directory != root {
                continue
            }
            let mode = status.permissions
            if status.uid == user.uid && mode & 0o300 == 0o300 { continue }
            let writable =
                (status.uid == user.uid && mode & 0o300 == 0o300) || (status.gid == user.gid && mode & 0o030 == 0o030)
                || mode & 0o003 == 0o003
            let owner = status.uid == user.uid ? name : "uid \(status.uid)"
            problems.append(
                "\(directory) owned by \(owner), mode \(String(mode, radix: 8))"
                    + (writable ? "" : ", not writable by \(name)"))
        }
        return problems
    }
}
