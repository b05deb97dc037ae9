/// A protocol-level error with a stable string code, sent on the wire as `{"error": {...}}`.
///
/// Codes can grow: an unknown code received from a newer peer is kept as-is (`Code(rawValue:)`),
/// so a client falls back on the HTTP status it received.
public struct WireError: Error, Codable, Sendable, Hashable, CustomStringConvertible {
    public struct Code: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// Not JSON, invalid UTF-8, nested too deeply, a wrong type or a missing field.
        public static let malformed = Code("malformed")
        /// Well-formed, but a field breaks a rule or a limit (the message names the field).
        public static let invalidField = Code("invalid_field")
        /// The body is larger than the endpoint accepts.
        public static let tooLarge = Code("too_large")
        /// An envelope `payloadType` or protocol version this peer does not speak.
        public static let unsupportedVersion = Code("unsupported_version")
        /// No valid signature from the expected key over the exact payload bytes.
        public static let badSignature = Code("bad_signature")
        /// The sequence number is older than the last accepted one.
        public static let replayedSequence = Code("replayed_sequence")
        /// `sent_at` is outside the receiver's skew window; `server_time` says what the receiver's clock reads.
        public static let clockSkew = Code("clock_skew")
        /// The agent id is not enrolled (or not yet accepted).
        public static let unknownAgent = Code("unknown_agent")
        /// The TLS client certificate belongs to another identity than the message names.
        public static let identityMismatch = Code("identity_mismatch")
        /// The agent or operator was revoked: stop retrying.
        public static let revoked = Code("revoked")
        /// The caller is authenticated but may not use this endpoint.
        public static let forbidden = Code("forbidden")
        /// The enrollment token is unknown, already used or expired.
        public static let invalidToken = Code("invalid_token")
        /// Another agent is already enrolled for this instance.
        public static let duplicateInstance = Code("duplicate_instance")
        /// The resource does not exist.
        public static let notFound = Code("not_found")
        /// The resource is not in a state that allows this (a remediation already decided, approved twice).
        public static let conflict = Code("conflict")
        /// Too many requests: wait and retry.
        public static let rateLimited = Code("rate_limited")
        /// The receiver cannot take the request now (store unavailable, shutting down): retry later.
        public static let unavailable = Code("unavailable")
        /// A bug on the receiver's side: retry later.
        public static let internalError = Code("internal")

        /// Every code this version knows, for documentation and tests.
        public static let known: [Code] = [
            .malformed, .invalidField, .tooLarge, .unsupportedVersion, .badSignature, .replayedSequence,
            .clockSkew, .unknownAgent, .identityMismatch, .revoked, .forbidden, .invalidToken,
            .duplicateInstance, .notFound, .conflict, .rateLimited, .unavailable, .internalError,
        ]

        /// The HTTP status a controller answers with; an unknown code maps to 400.
        public var httpStatus: Int {
            switch self {
            case .malformed, .unsupportedVersion, .clockSkew: 400
            case .badSignature: 401
            case .unknownAgent, .identityMismatch, .revoked, .forbidden, .invalidToken: 403
            case .notFound: 404
            case .replayedSequence, .duplicateInstance, .conflict: 409
            case .tooLarge: 413
            case .invalidField: 422
            case .rateLimited: 429
            case .internalError: 500
            case .unavailable: 503
            default: 400
            }
        }

        /// Whether sending the same message again later can succeed (after waiting, or after the clock is fixed).
        public var isRetryable: Bool {
            switch self {
            case .clockSkew, .rateLimited, .unavailable, .internalError: true
            default: false
            }
        }
    }

    public var code: Code
    /// A one-line human explanation; never contains secrets. Control characters are escaped (a
    /// value echoed from a request — a `payloadType` of `"a\nb"` — can start no forged log line).
    public var message: String
    /// The receiver's clock, sent with `clock_skew` so the sender can log its offset.
    public var serverTime: Date?
    /// The newest sequence the receiver accepted from this agent, sent with `replayed_sequence`.
    public var lastAcceptedSequence: UInt64?

    public init(_ code: Code, _ message: String, serverTime: Date? = nil, lastAcceptedSequence: UInt64? = nil) {
        self.code = code
        self.message = message.escapingControlCharacters
        self.serverTime = serverTime
        self.lastAcceptedSequence = lastAcceptedSequence
    }

    enum CodingKeys: String, CodingKey {
        case code, message, serverTime = "server_time", lastAcceptedSequence = "last_accepted_sequence"
    }

    /// Through `init(_:_:)`, so that a message received is escaped like one made here.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            try c.decode(Code.self, forKey: .code), try c.decode(String.self, forKey: .message),
            serverTime: try c.decodeIfPresent(Date.self, forKey: .serverTime),
            lastAcceptedSequence: try c.decodeIfPresent(UInt64.self, forKey: .lastAcceptedSequence))
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalid(_ field: String, _ problem: String) -> WireError {
        WireError(.invalidField, "\(field): \(problem)")
    }
}
