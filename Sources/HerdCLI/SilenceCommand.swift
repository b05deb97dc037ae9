import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl silence add|list|expire`: silences and maintenance windows.
struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Silences and maintenance windows: incidents are still recorded, their notifications not sent.",
        subcommands: [SilenceAdd.self, SilenceList.self, SilenceExpire.self])

    static func show(_ silences: [OperatorAPI.Silence], now: Date) {
        let rows = silences.map { s in
            [
                "#\(s.id)", "\(s.scope) \(s.value)",
                s.startsAt > now ? "in \(Output.age(s.startsAt.timeIntervalSince(now)))" : "active",
                s.expiredAt != nil
                    ? "expired" : (s.endsAt > now ? "ends in \(Output.age(s.endsAt.timeIntervalSince(now)))" : "ended"),
                s.createdBy, s.reason,
            ]
        }
        emit(Output.table(["ID", "SCOPE", "STARTS", "ENDS", "BY", "REASON"], rows))
    }

    /// A silence's length or start, at most a year.
    static func duration(_ text: String, _ option: String) throws -> Double {
        try seconds(of: text, option, in: .seconds(1)...(.seconds(366 * 86_400)))
    }
}
