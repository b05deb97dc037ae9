/// What an envelope's payload is, and at which major version. Part of the signed bytes (DSSE PAE),
/// so a signature over a report can never pass for a command.
public struct PayloadType: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    public static let report = PayloadType(rawValue: "application/vnd.herd.report.v1+json")
    public static let commandResult = PayloadType(rawValue: "application/vnd.herd.command-result.v1+json")
    public static let enrollRequest = PayloadType(rawValue: "application/vnd.herd.enroll-request.v1+json")
    public static let command = PayloadType(rawValue: "application/vnd.herd.command.v1+json")

    public static let known: [PayloadType] = [.report, .commandResult, .enrollRequest, .command]
}
