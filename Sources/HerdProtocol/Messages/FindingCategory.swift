/// What kind of trouble a finding is. An open set: the log classifier's table can name new categories,
/// so an unknown value from a newer agent is kept as it is (it must still be a valid identifier).
public struct FindingCategory: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static let dbConnection = Self("db_connection")
    public static let dbPoolExhausted = Self("db_pool_exhausted")
    public static let redisDown = Self("redis_down")
    public static let diskFull = Self("disk_full")
    public static let permissionDenied = Self("permission_denied")
    public static let mediaProcessing = Self("media_processing")
    public static let upstreamUnreachable = Self("upstream_unreachable")
    public static let upstreamTimeout = Self("upstream_timeout")
    public static let oomKill = Self("oom_kill")
    public static let sidekiqBacklogOrRetry = Self("sidekiq_backlog_or_retry")
    public static let federationRemoteFailure = Self("federation_remote_failure")
    public static let tlsError = Self("tls_error")
    public static let encodingError = Self("encoding_error")
    /// The object storage (S3 and compatible) failing: uploads and media posts fail with it.
    public static let objectStorage = Self("object_storage")
    /// The server's own connection limit reached (`max_connections`), as against the client's pool.
    public static let dbConnectionLimit = Self("db_connection_limit")
    /// The database's schema does not match the code: migrations not run.
    public static let dbSchema = Self("db_schema")
    public static let searchEngine = Self("search_engine")
    public static let mailDelivery = Self("mail_delivery")
    /// systemd (or a supervisor) cannot keep a unit running.
    public static let serviceFailed = Self("service_failed")
    public static let configError = Self("config_error")
    /// An exception raised by the application's own code, not by the infrastructure.
    public static let appError = Self("app_error")
    public static let other = Self("other")
    /// A line at error severity that no signature names; its finding carries a redacted sample.
    public static let unclassifiedError = Self("unclassified_error")

    /// Defined in Agent/log-categories.md, in its order.
    public static let known: [FindingCategory] = [
        .dbConnection, .dbPoolExhausted, .dbConnectionLimit, .dbSchema, .redisDown, .diskFull, .permissionDenied,
        .mediaProcessing, .objectStorage, .upstreamUnreachable, .upstreamTimeout, .oomKill, .sidekiqBacklogOrRetry,
        .federationRemoteFailure, .tlsError, .encodingError, .searchEngine, .mailDelivery, .serviceFailed,
        .configError, .appError, .other, .unclassifiedError,
    ]
}
