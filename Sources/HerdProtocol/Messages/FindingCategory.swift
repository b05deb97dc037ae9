/// What kind of trouble a finding is. An open set: the log classifier's table can name new categories,
/// so an unknown value from a newer agent is kept as it is (it must still be a valid identifier).
public struct FindingCategory: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
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
    public static let other = Self("other")

    public static let known: [FindingCategory] = [
        .dbConnection, .dbPoolExhausted, .redisDown, .diskFull, .permissionDenied, .mediaProcessing,
        .upstreamUnreachable, .upstreamTimeout, .oomKill, .sidekiqBacklogOrRetry, .federationRemoteFailure,
        .tlsError, .encodingError, .objectStorage, .other,
    ]
}
