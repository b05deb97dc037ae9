/// How Mastodon reaches PostgreSQL, from `.env.production` (`config/database.yml`): `DATABASE_URL`,
/// or `DB_HOST` (a host name, or a socket directory when it starts with `/`), `DB_PORT`, `DB_NAME`,
/// `DB_USER`, `DB_PASS`, `DB_SSLMODE`.
public struct PostgresSettings: Sendable, Hashable, CustomStringConvertible {
    public enum Address: Sendable, Hashable {
        case tcp(host: String, port: Int)
        /// The socket file itself: `DIRECTORY/.s.PGSQL.PORT`.
        case unix(path: String)
    }

    public enum SSLMode: String, Sendable, Hashable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var address: Address
    public var database: String
    public var user: String
    /// Never printed.
    public var password: String?
    public var sslMode: SSLMode

    public var description: String {
        switch address {
        case .tcp(let host, let port): "\(user)@\(host):\(port)/\(database)"
        case .unix(let path): "\(user)@\(path)/\(database)"
        }
    }

    public static func mastodon(from env: [String: String]) throws(PostgresCheckError) -> PostgresSettings {
        func value(_ key: String) -> String? {
            guard let value = env[key], !value.isEmpty else { return nil }
            return value
        }
        if let url = value("DATABASE_URL") { return try parse(url: url) }
        let port = value("DB_PORT").map { Int($0) } ?? 5432
        guard let port, (1...65535).contains(port) else {
            throw PostgresCheckError(.configuration, "DB_PORT: not a port: \(env["DB_PORT"] ?? "")")
        }
        let host = value("DB_HOST") ?? "localhost"
        guard let sslMode = SSLMode(rawValue: value("DB_SSLMODE") ?? "prefer") else {
            throw PostgresCheckError(.configuration, "DB_SSLMODE: not a libpq sslmode: \(env["DB_SSLMODE"] ?? "")")
        }
        return PostgresSettings(
            address: host.hasPrefix("/") ? .unix(path: "\(host)/.s.PGSQL.\(port)") : .tcp(host: host, port: port),
            database: value("DB_NAME") ?? "mastodon_production", user: value("DB_USER") ?? "mastodon",
            password: value("DB_PASS"), sslMode: sslMode)
    }

    /// `postgres://user:password@host:port/database?sslmode=…` (also `postgresql://`; `host=` in the
    /// query for a socket directory).
    static func parse(url: String) throws(PostgresCheckError) -> PostgresSettings {
        func fail(_ why: String) -> PostgresCheckError { PostgresCheckError(.configuration, "DATABASE_URL: \(why)") }
        guard let schemeEnd = url.firstRange(of: "://"),
            ["postgres", "postgresql"].contains(url[..<schemeEnd.lowerBound].lowercased())
        else { throw fail("not a postgres:// URL") }
        var rest = Substring(url[schemeEnd.upperBound...])
        var query: [String: String] = [:]
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { query[String(parts[0])] = try unescape(parts[1], fail) }
            }
            rest = rest[..<mark]
        }
        var user = "mastodon"
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            user = try unescape(parts[0], fail)
            if parts.count == 2 { password = try unescape(parts[1], fail) }
        }
        var database = "mastodon_production"
        if let slash = rest.firstIndex(of: "/") {
            let name = try unescape(rest[rest.index(after: slash)...], fail)
            if !name.isEmpty { database = name }
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = 5432
        if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") {
            host = String(rest[..<colon])
            guard let number = Int(rest[rest.index(after: colon)...]), (1...65535).contains(number) else {
                throw fail("bad port")
            }
            port = number
        }
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") { host = socketDirectory }
        if host.isEmpty { host = "localhost" }
        guard let sslMode = SSLMode(rawValue: query["sslmode"] ?? "prefer") else { throw fail("bad sslmode") }
        return PostgresSettings(
            address: host.hasPrefix("/") ? .unix(path: "\(host)/.s.PGSQL.\(port)") : .tcp(host: host, port: port),
            database: database, user: user, password: password, sslMode: sslMode)
    }

    private static func unescape(_ text: Substring, _ fail: (String) -> PostgresCheckError) throws(PostgresCheckError)
        -> String
    {
        guard let decoded = percentDecoded(text) else { throw fail("bad percent-escape or not UTF-8") }
        return decoded
    }
}

/// Why the PostgreSQL check could not get its answers, sorted the way it reports them.
public struct PostgresCheckError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case configuration
        case refused
        case socketMissing = "socket_missing"
        case permissionDenied = "permission_denied"
        case authFailed = "auth_failed"
        case tooManyClients = "too_many_clients"
        case databaseMissing = "database_missing"
        case timeout
        case dns
        case tls
        case failed
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
