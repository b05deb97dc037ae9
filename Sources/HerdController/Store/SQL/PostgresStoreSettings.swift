import Foundation
import HerdProtocol
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store is and how to reach it, from a libpq-style URL:
/// `postgresql://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full&sslrootcert=/etc/herd/pg-ca.pem`.
/// Parameters: `sslmode` (libpq's six, default `prefer`), `sslrootcert` (a PEM file of trusted CAs),
/// `host` (a directory holding PostgreSQL's unix socket, instead of TCP), `connect_timeout` (seconds,
/// default 10). Anything else is refused, so a typo is never silently a weaker connection.
public struct PostgresStoreSettings: Sendable, Hashable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var unixSocketDirectory: String?
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    public var sslRootCertificate: String?
    public var connectTimeoutSeconds: Int

    public struct InvalidURL: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    public init(url text: String) throws {
        func invalid(_ why: String) -> InvalidURL { InvalidURL(description: "store: \(why)") }
        guard Self.isPostgresURL(text), let url = URLComponents(string: text) else {
            throw invalid("not a postgresql:// URL")
        }
        user = url.user ?? "herd"
        password = url.password
        host = url.host.map { $0.hasPrefix("[") ? String($0.dropFirst().dropLast()) : $0 } ?? ""
        port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw invalid("port \(port) is out of range") }
        let path = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        database = path.isEmpty ? user : path
        guard !database.contains("/") else { throw invalid("the database name holds a '/'") }
        sslMode = .prefer
        connectTimeoutSeconds = 10
        for item in url.queryItems ?? [] {
            let value = item.value ?? ""
            switch item.name {
            case "sslmode":
                guard let mode = SSLMode(rawValue: value) else {
                    throw invalid(
                        "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                sslMode = mode
            case "sslrootcert": sslRootCertificate = value
            case "host":
                guard value.hasPrefix("/") else { throw invalid("host= must be a socket directory") }
                unixSocketDirectory = value
            case "connect_timeout":
                guard let seconds = Int(value), (1...300).contains(seconds) else {
                    throw invalid("connect_timeout must be 1 to 300 seconds")
                }
                connectTimeoutSeconds = seconds
            default: throw invalid("unknown parameter \(item.name.escapingControlCharacters)")
            }
        }
        // libpq: `require` with a root certificate verifies the chain, as `verify-ca`.
        if sslMode == .require, sslRootCertificate != nil { sslMode = .verifyCA }
        guard host.isEmpty == false || unixSocketDirectory != nil else { throw invalid("no host") }
        for (name, value) in [("user", user), ("database", database), ("password", password ?? "")]
        where value.utf8.contains(0) {
            throw invalid("the \(name) holds a NUL byte")
        }
    }

    /// The URL without its password, for logs and `--help`-style echoes.
    public var description: String {
        var text = "postgresql://\(user)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
        text += "?sslmode=\(sslMode.rawValue)"
        if let unixSocketDirectory { text += "&host=\(unixSocketDirectory)" }
        return text.escapingControlCharacters
    }

    /// postgres-nio's configuration. TLS as libpq's `sslmode` says: `disable` never, `allow`/`prefer`
    /// when the server agrees (unverified), `require` always (unverified), `verify-ca` always with the
    /// chain checked against `sslrootcert`, `verify-full` the chain and the host name too (against
    /// `sslrootcert`, or the system's roots without it). TLS 1.2 or later.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let sslRootCertificate {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(sslRootCertificate))
        }
        let mode: PostgresConnection.Configuration.TLS
        switch sslMode {
        case .disable: mode = .disable
        case .allow, .prefer:
            tls.certificateVerification = .none
            mode = .prefer(try NIOSSLContext(configuration: tls))
        case .require:
            tls.certificateVerification = .none
            mode = .require(try NIOSSLContext(configuration: tls))
        case .verifyCA:
            guard sslRootCertificate != nil else {
                throw InvalidURL(description: "store: sslmode=verify-ca needs sslrootcert=")
            }
            tls.certificateVerification = .noHostnameVerification
            mode = .require(try NIOSSLContext(configuration: tls))
        case .verifyFull:
            tls.certificateVerification = .fullVerification
            mode = .require(try NIOSSLContext(configuration: tls))
        }
        var configuration: PostgresConnection.Configuration
        if let unixSocketDirectory {
            configuration = .init(
                unixSocketPath: "\(unixSocketDirectory)/.s.PGSQL.\(port)", username: user, password: password,
                database: database)
        } else {
            configuration = .init(
                host: host, port: port, username: user, password: password, database: database, tls: mode)
        }
        configuration.options.connectTimeout = .seconds(Int64(connectTimeoutSeconds))
        return configuration
    }
}
