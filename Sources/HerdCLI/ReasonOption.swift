import ArgumentParser
import Foundation
import HerdProtocol

/// `--reason`: one line, as the audit log keeps it.
struct ReasonOption: ParsableArguments {
    @Option(help: "Why (one line; kept in the audit log).") var reason: String

    func validate() throws {
        guard (try? Rule.line(reason, "reason", maxBytes: Limits.maxReasonBytes)) != nil else {
            throw ValidationError("--reason is one line of 1 to \(Limits.maxReasonBytes) bytes")
        }
    }
}
