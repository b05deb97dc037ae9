/// Where Sidekiq's Redis is and how to log in, as Mastodon reads it from `.env.production`.
public struct RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Address: Sendable, Hashable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    /// `rediss://`: TLS, verified against the system's trust roots.
    public var tls: Bool
    public var username: String?
    /// Never printed: `description` shows only whether there is one.
    public var password: String?
    public var database: Int
    /// `REDIS_NAMESPACE` (Mastodon ≤ 4.3 prefixes every Sidekiq key with `NAMESPACE:`).
    public var namespace: String?

    public init(
        address: Address, tls: Bool = false, username: String? = nil, password: String? = nil, database: Int = 0,
        namespace: String? = nil
    ) {
        self.address = address
        self.tls = tls
        self.username = username
        self.password = password
        self.database = database
        self.namespace = namespace
    }

    public var description: String {
        let scheme = tls ? "rediss" : "redis"
        let user = username.map { "\($0)@" } ?? (password != nil ? "(password)@" : "")
        return switch address {
        case .tcp(let host, let port): "\(scheme)://\(user)\(host):\(port)/\(database)"
        case .unix(let path): "unix://\(user)\(path)?db=\(database)"
        }
    }

    /// Sidekiq's Redis as Mastodon configures it (`Mastodon::RedisConfiguration#sidekiq`): the first of
    /// `SIDEKIQ_REDIS_URL`, the `SIDEKIQ_REDIS_HOST/PORT/DB/USER/PASSWORD` set, `REDIS_URL`, the
    /// `REDIS_HOST/PORT/DB/USER/PASSWORD` set, and finally localhost:6379 database 0.
    public static func sidekiq(from environment: [String: String]) throws(RedisError) -> RedisEndpoint {
        // Plain ifs, not `try a ?? b`: Swift 6.3 accepted a typed throw through `??`'s rethrowing
        // autoclosure here, and the error arrived corrupted (a crash in the caller's catch).
        var endpoint = RedisEndpoint(address: .tcp(host: "localhost", port: 6379))
        if let sidekiq = try prefixed("SIDEKIQ_REDIS_", environment) {
            endpoint = sidekiq
        } else if let base = try prefixed("REDIS_", environment) {
            endpoint = base
        }
        if let namespace = environment["REDIS_NAMESPACE"], !namespace.isEmpty { endpoint.namespace = namespace }
        return endpoint
    }

    private static func prefixed(_ prefix: String, _ environment: [String: String]) throws(RedisError)
        -> RedisEndpoint?
    {
        func value(_ key: String) -> String? {
            guard let value = environment[prefix + key], !value.isEmpty else { return nil }
            return value
        }
        if let url = value("URL") { return try parse(url: url, key: prefix + "URL") }
        guard value("HOST") != nil || value("PORT") != nil || value("DB") != nil || value("PASSWORD") != nil else {
            return nil
        }
        var port = 6379
        if let text = value("PORT") {
            guard let number = Int(text), (1...65535).contains(number) else {
                throw RedisError(.configuration, "\(prefix)PORT: not a port: \(text)")
            }
            port = number
        }
        var database = 0
        if let text = value("DB") {
            guard let number = Int(text), (0...1023).contains(number) else {
                throw RedisError(.configuration, "\(prefix)DB: not a database index: \(text)")
            }
            database = number
        }
        return RedisEndpoint(
            address: .tcp(host: value("HOST") ?? "localhost", port: port), username: value("USER"),
            password: value("PASSWORD"), database: database)
    }

    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://…`, `unix://[user:password@]/path[?db=N]`.
    public static func parse(url: String, key: String = "REDIS_URL") throws(RedisError) -> RedisEndpoint {
        func fail(_ why: String) -> RedisError { RedisError(.configuration, "\(key): \(why)") }
        guard let schemeEnd = url.firstRange(of: "://") else { throw fail("not a redis:// URL") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userinfo.firstIndex(of: ":") {
                username = try decode(userinfo[..<colon], fail)
                password = try decode(userinfo[userinfo.index(after: colon)...], fail)
            } else {
                username = try decode(userinfo, fail)
            }
            if username == "" { username = nil }
        }
        var database = 0
        for pair in query.split(separator: "&") where pair.hasPrefix("db=") {
            guard let db = Int(pair.dropFirst(3)), (0...1023).contains(db) else { throw fail("bad db in query") }
            database = db
        }
        switch scheme {
        case "unix":
            guard rest.hasPrefix("/") else { throw fail("unix:// needs an absolute socket path") }
            return RedisEndpoint(
                address: .unix(path: String(rest)), username: username, password: password, database: database)
        case "redis", "rediss":
            var hostPort = rest
            if let slash = rest.firstIndex(of: "/") {
                hostPort = rest[..<slash]
                let path = rest[rest.index(after: slash)...]
                if !path.isEmpty {
                    guard let db = Int(path), (0...1023).contains(db) else { throw fail("bad database index /\(path)") }
                    database = db
                }
            }
            var host = hostPort
            var port = 6379
            if hostPort.hasPrefix("[") {
                guard let close = hostPort.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
                host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
                let after = hostPort[hostPort.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw fail("bad port") }
                    port = p
                }
            } else if let colon = hostPort.lastIndex(of: ":") {
                host = hostPort[..<colon]
                guard let p = Int(hostPort[hostPort.index(after: colon)...]), (1...65535).contains(p) else {
                    throw fail("bad port")
                }
                port = p
            }
            guard !host.isEmpty else { throw fail("no host") }
            return RedisEndpoint(
                address: .tcp(host: String(host), port: port), tls: scheme == "rediss", username: username,
                password: password, database: database)
        default:
            throw fail("unsupported scheme \(scheme)://")
        }
    }

    private static func decode(_ text: Substring, _ fail: (String) -> RedisError) throws(RedisError) -> String {
        guard let decoded = percentDecoded(text) else { throw fail("bad percent-escape in credentials") }
        return decoded
    }
}
