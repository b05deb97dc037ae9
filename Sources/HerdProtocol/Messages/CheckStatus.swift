/// The outcome of one check. A closed set: an older controller must never guess what a newer status
/// means for alerting, so an unknown value fails decoding (`malformed`) instead of becoming `.unknown`.
public enum CheckStatus: String, Codable, Sendable, CaseIterable, Comparable {
    case ok
    case warning
    case critical
    /// The check could not decide; its summary always says why.
    case unknown

    /// Worst first when sorting a fleet: critical, unknown, warning, ok.
    public var severity: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .unknown: 2
        case .critical: 3
        }
    }

    public static func < (lhs: CheckStatus, rhs: CheckStatus) -> Bool { lhs.severity < rhs.severity }
}
