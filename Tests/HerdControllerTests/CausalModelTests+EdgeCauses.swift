import Foundation
import HerdProtocol

@testable import HerdController

extension CausalModelTests {
    /// TLS, the host's resources, 5xx that follow load or that nothing names, and a failure no cause
    /// explains: the causes at the end of the model's order.
    static let edgeCases: [Case] = [
        Case(
            name: "an expired certificate", check: "mastodon.http",
            results: [
                PatternTests.result(
                    "mastodon.http", .critical,
                    findings: [
                        finding(.tlsError, "certificate expired", "certificate has expired (notAfter 2026-11-30)")
                    ])
            ], rule: "tls", action: SuggestedAction(action: "restart-service", parameters: ["service": "nginx"])),
        Case(
            name: "a certificate about to expire", check: "mastodon.http",
            results: [
                PatternTests.result(
                    "mastodon.http", .critical, metrics: ["certificate.days_left": 1.9],
                    findings: [finding(.tlsError, "TLS certificate expiring", "certificate expires in 1 day(s)")])
            ], rule: "tls", action: SuggestedAction(action: "restart-service", parameters: ["service": "nginx"]),
            cause: "The public certificate expires in 1 day(s)"),
        Case(
            name: "5xx that no log line names", check: "nginx.access_log",
            results: [
                PatternTests.result(
                    "nginx.access_log", .critical, metrics: ["status_5xx": 12, "status_503": 12, "requests": 40]),
                PatternTests.result("logs", .critical, metrics: ["requests_5xx": 12, "requests": 40]),
            ], rule: "server_errors", cause: "Requests fail with 5xx (12×503) and no log line names why"),
        Case(
            name: "memory pressure", check: "resources",
            results: [
                PatternTests.result(
                    "resources", .critical, metrics: ["memory.available_ratio": 0.03, "swap.used_ratio": 0.9])
            ], rule: "resource_pressure", cause: "3 % of memory available"),
        Case(
            name: "5xx under load", check: "nginx.access_log",
            results: [PatternTests.result("nginx.access_log", .warning)], patterns: [.underLoad],
            rule: "errors_under_load"),
        Case(
            name: "nothing explains it", check: "oom", results: [PatternTests.result("oom", .warning)],
            rule: "unexplained"),
    ]
}
