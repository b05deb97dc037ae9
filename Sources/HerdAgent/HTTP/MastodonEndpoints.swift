/// `scheme://host[:port]` — the only shape of URL the agent's settings take (no path, query or user).
public struct BaseURL: Sendable, Hashable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int

    /// Parses `http(s)://host[:port]` with an optional trailing `/`; nil for anything else.
    public init?(_ text: String) {
        guard text.utf8.count <= 2048, text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https"
        } else if lower.hasPrefix("http://") {
            scheme = "http"
        } else {
            return nil
        }
        var rest = Substring(lower.dropFirst(scheme.count + 3))
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains(where: { "/?#@\\".contains($0) }) else { return nil }
        var host = rest
        var port = scheme == "https" ? 443 : 80
        if rest.hasPrefix("[") {  // [v6]:port
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if let colon = rest.lastIndex(of: ":") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            host = rest[..<colon]
            port = p
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isLetter || $0.isNumber || "-.:_".contains($0) }) else { return nil }
        self.scheme = scheme
        self.host = String(host)
        self.port = port
    }

    public var isDefaultPort: Bool { port == (scheme == "https" ? 443 : 80) }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(scheme)://\(shownHost)" + (isDefaultPort ? "" : ":\(port)")
    }
}

/// Where the HTTP checks knock: puma and each streaming process directly, and the public name through
/// whatever fronts it (nginx, a load balancer), derived the way Mastodon binds them unless the
/// configuration says otherwise.
public struct MastodonEndpoints: Sendable, Hashable {
    /// `http://127.0.0.1:3000` or `http+unix://…` for `SOCKET=`.
    var webDirect: String?
    var streamingDirect: [String]
    var publicBase: BaseURL?
    /// `STREAMING_API_BASE_URL` when streaming has a name of its own, else the public base.
    var publicStreaming: BaseURL?
    /// The name Rails answers for (`WEB_DOMAIN`, else `LOCAL_DOMAIN`): the Host of direct requests.
    var domain: String?

    static func resolve(
        _ configuration: AgentConfiguration, env: [String: String], streamingPorts: [Int],
        resolvePath: (String) -> String
    ) -> MastodonEndpoints {
        let domain = [env["WEB_DOMAIN"], env["LOCAL_DOMAIN"]].lazy.compactMap { $0 }.first { !$0.isEmpty }
        var endpoints = MastodonEndpoints(webDirect: nil, streamingDirect: [], domain: domain)

        switch configuration.httpWebURL {
        case .off: break
        case .url(let url): endpoints.webDirect = url.description
        case .auto:
            if let socket = env["SOCKET"], socket.hasPrefix("/") {
                endpoints.webDirect = "http+unix://" + percentEncodePath(resolvePath(socket))
            } else {
                let port = env["PORT"].flatMap { Int($0) }.flatMap { (1...65535).contains($0) ? $0 : nil } ?? 3000
                endpoints.webDirect = "http://\(loopbackFor(env["BIND"])):\(port)"
            }
        }

        switch configuration.httpStreamingURLs {
        case .off: break
        case .urls(let urls): endpoints.streamingDirect = urls.map(\.description)
        case .auto:
            let ports = streamingPorts.isEmpty ? [4000] : streamingPorts
            endpoints.streamingDirect = ports.sorted().map { "http://\(loopbackFor(env["BIND"])):\($0)" }
        }

        switch configuration.httpPublicURL {
        case .off: break
        case .url(let url): endpoints.publicBase = url
        case .auto: endpoints.publicBase = domain.flatMap { BaseURL("https://\($0)") }
        }
        if let base = endpoints.publicBase {
            endpoints.publicStreaming = base
            if configuration.httpPublicURL == .auto, var streaming = env["STREAMING_API_BASE_URL"] {
                if streaming.hasPrefix("wss://") {
                    streaming = "https://" + streaming.dropFirst(6)
                } else if streaming.hasPrefix("ws://") {
                    streaming = "http://" + streaming.dropFirst(5)
                }
                if let url = BaseURL(streaming) { endpoints.publicStreaming = url }
            }
        }
        return endpoints
    }

    /// Puma and streaming bind `BIND` (127.0.0.1 by default); a wildcard bind is reached on loopback.
    private static func loopbackFor(_ bind: String?) -> String {
        guard let bind, !bind.isEmpty, bind != "0.0.0.0", bind != "::", bind != "[::]" else { return "127.0.0.1" }
        if bind.contains(":") { return "[\(bind)]" }
        return bind.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) ? bind : "127.0.0.1"
    }

    /// The unix socket path as AsyncHTTPClient's `http+unix://` host.
    static func percentEncodePath(_ path: String) -> String {
        var out = ""
        for byte in path.utf8 {
            let c = Character(UnicodeScalar(byte))
            if byte < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// `4000` from `mastodon-streaming@4000.service`.
    public static func streamingPort(unit: String) -> Int? {
        guard let at = unit.firstIndex(of: "@"), unit.hasSuffix(".service") else { return nil }
        let port = unit[unit.index(after: at)...].dropLast(".service".count)
        return Int(port).flatMap { (1...65535).contains($0) ? $0 : nil }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
