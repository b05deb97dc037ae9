import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl notifications test ROUTE`: paging checked end to end, before a real incident needs it.
struct NotificationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notifications", abstract: "Check the paging routes of controller.conf.",
        subcommands: [NotificationsTest.self])
}

struct NotificationsTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test message through every receiver of one route, and say what each did.",
        discussion: """
            ROUTE is the N of notify.route.N in the controller's controller.conf, or `default` (where \
            incidents no route takes go). The controller sends the message at once — email, PagerDuty \
            (triggered and resolved), Matrix, webhooks — and answers when every receiver has taken it or \
            failed; the test is in the audit log. Exit status 1 when any receiver failed.
            """)

    @Argument(help: "A route's number, or default.")
    var route: String

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard route == "default" || (Int(route).map { (1...999).contains($0) } ?? false) else {
            throw ValidationError("ROUTE is a route's number (1 to 999) or default")
        }
    }

    func run() async throws {
        let body = try JSONCodable.encode(OperatorAPI.NotificationTestRequest(route: route))
        let answer = try await withClient(connection) {
            try await $0.call(.POST, "/v1/notifications/test", body: body, as: OperatorAPI.NotificationTest.self)
        }
        if connection.json {
            try printJSON(answer)
        } else {
            emit(
                Output.table(
                    ["RECEIVER", "KIND", "RESULT", "ERROR"],
                    answer.receivers.map {
                        [
                            $0.receiver, $0.kind, $0.delivered ? "delivered" : "failed",
                            String(($0.error ?? "").prefix(200)),
                        ]
                    }
                ) { row, column, text in
                    column == 2 ? Output.paint(text, state: answer.receivers[row].delivered ? "ok" : "critical") : text
                })
        }
        if answer.receivers.contains(where: { !$0.delivered }) { throw ExitCode(1) }
    }
}
