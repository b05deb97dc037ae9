import Foundation
import HerdProtocol

@testable import HerdController

extension CausalModelTests {
    /// Causes named from the log categories of Agent/log-categories.md, on lines real hosts logged.
    static let logCases: [Case] = [
        Case(
            name: "an undefined column after an upgrade", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .critical,
                    findings: [
                        finding(
                            .dbSchema, "PG::UndefinedColumn",
                            "ActiveRecord::StatementInvalid (PG::UndefinedColumn: ERROR:  column statuses.edited_at does not exist"
                        )
                    ])
            ], rule: "db_schema", nextStep: "db:migrate"),
        Case(
            name: "Elasticsearch refusing on 9200", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .searchEngine, "search engine port 9200",
                            "Faraday::ConnectionFailed (Failed to open TCP connection to localhost:9200 (Connection refused - connect(2) for \"localhost\" port 9200))"
                        )
                    ])
            ], rule: "search_engine"),
        Case(
            name: "the SMTP server refusing the login", check: "sidekiq",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .mailDelivery, "Net::SMTPAuthenticationError",
                            "Net::SMTPAuthenticationError: 535 5.7.8 Username and Password not accepted"
                        )
                    ]),
                PatternTests.result("sidekiq", .warning),
            ], rule: "mail_delivery"),
        Case(
            name: "a unit whose User= does not exist", check: "services",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .serviceFailed, "systemd status 217/USER",
                            "mastodon-web.service: Main process exited, code=exited, status=217/USER")
                    ]),
                PatternTests.result("services", .warning),
            ], rule: "unit_failing", nextStep: "217/USER"),
        Case(
            name: "an error nobody wrote a signature for", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .warning,
                    findings: [
                        finding(
                            .unclassifiedError, "ERROR: E, ERROR Frobnicator exploded",
                            "E, [2026-03-02T10:15:01.123456 #1234] ERROR -- : Frobnicator exploded")
                    ])
            ], rule: "unrecognised_error", cause: "Frobnicator exploded"),
        Case(
            name: "Active Record encryption keys missing (4.3)", check: "logs",
            results: [
                PatternTests.result(
                    "logs", .critical,
                    findings: [
                        finding(
                            .configError, "Active Record encryption variables",
                            "The ActiveRecord encryption feature requires that these variables are set: ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"
                        )
                    ])
            ], rule: "config_broken", cause: "A configuration is wrong"),
    ]
}
