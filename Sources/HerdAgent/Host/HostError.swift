#if canImport(Glibc)
    import Glibc
#endif

/// Why a host surface (a file, a command, the journal) could not be read. Checks turn it into an
/// `unknown` result whose summary is `description`, so it names the path or command and the reason.
public struct HostError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case notFound = "not_found"
        case permissionDenied = "permission_denied"
        case tooLarge = "too_large"
        case timedOut = "timed_out"
        case invalid
        case failed
    }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// An error from a failed system call on `subject`, classified by `errno`.
    public static func errno(_ code: Int32, _ subject: String) -> HostError {
        let kind: Kind =
            switch code {
            case ENOENT, ENOTDIR: .notFound
            case EACCES, EPERM: .permissionDenied
            default: .failed
            }
        return HostError(kind, "\(subject): \(String(cString: strerror(code)))")
    }
}
