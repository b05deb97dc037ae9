import AsyncHTTPClient
import Foundation
import HerdProtocol
import HerdTestSupport
import NIOCore
import Testing

@testable import HerdController

/// `/metrics`, `/health` and `/ready` of a real `herd-controller serve`, with agents reporting to it over
/// mutual TLS: what the exposition says matches what happened, Prometheus' own promtool accepts it, and
/// the rules and the Grafana dashboard in deploy/ name only series the controller exposes.
@Suite(.serialized) struct MetricsTests {
    typealias Failover = ReplicaFailoverTests

    static var promtool: String {
        get throws {
            guard
                let path = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first(
                    where: FileManager.default.isExecutableFile)
            else { throw FixtureError("promtool is missing: install Debian's prometheus (scripts/test.sh does)") }
            return path
        }
    }

    /// GET over plain HTTP: the status and the body.
    static func get(_ url: String) async throws -> (status: Int, body: String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(20))
        let body = try await response.body.collect(upTo: 16 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    /// The value of one series, written exactly as the exposition writes it (`name{label="value"}`).
    static func sample(_ exposition: String, _ series: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// Every `herd_…` metric family the text names (a histogram's `_bucket`, `_sum`, `_count` are its own).
    static func families(in text: String) -> Set<String> {
        var names = Set<String>()
        let pattern = try! Regex(#"herd_[a-z_]+"#)
        for match in text.matches(of: pattern) {
            var name = String(text[match.range])
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && name.contains("duration") {
                name = String(name.dropLast(suffix.count))
            }
            names.insert(name)
        }
        return names
    }

    @Test func theExpositionCountsWhatHappenedAndPromtoolAcceptsIt() async throws {
        try await Failover.withClients { clients in
            let webhook = try WebhookReceiver()
            defer { webhook.stop() }
            let replicas = try ReplicaSet(
                binary: try BuiltProduct.path("herd-controller"), replicas: 1, store: "sqlite",
                settings: [
                    "notify.webhook.ops = \(webhook.url)", "notify.group_wait = 0s",
                    "patterns.persistent.check.services = 1/0s/2",
                ])
            defer { replicas.stop() }
            let base = "https://127.0.0.1:\(replicas.port)"
            let metrics = "http://127.0.0.1:\(try #require(replicas.process(0)).metricsPort)"
            let (caPEM, operatorClient) = try clients.operatorClient(of: replicas)
            let anonymous = try clients.make(caPEM: caPEM, identity: nil)
            let sick = try await Failover.enroll(
                "sick.metrics.example", at: base, caPEM: caPEM, operator: operatorClient, anonymous: anonymous,
                clients: clients)
            let well = try await Failover.enroll(
                "well.metrics.example", at: base, caPEM: caPEM, operator: operatorClient, anonymous: anonymous,
                clients: clients)
            for sequence in 1...3 {
                let sickReport = try Failover.report(sick, sequence: UInt64(sequence), critical: true)
                _ = try #require(await Failover.post(sick.client, base + "/v1/reports", sickReport))
                let wellReport = try Failover.report(well, sequence: UInt64(sequence), critical: false)
                _ = try #require(await Failover.post(well.client, base + "/v1/reports", wellReport))
            }
            // The last report again (a retry: duplicate), and garbage (malformed).
            let retry = try Failover.report(well, sequence: 3, critical: false)
            _ = try #require(await Failover.post(well.client, base + "/v1/reports", retry))
            let garbage = await Failover.answer(well.client, base + "/v1/reports", Array("{not json".utf8))
            #expect(garbage?.status == 400)

            // The incident's page goes out; the exposition then shows its delivery.
            let deadline = ContinuousClock.now + .seconds(60)
            while webhook.accepted.isEmpty, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(!webhook.accepted.isEmpty, "no notification was delivered")
            let (status, text) = try await Self.get(metrics + "/metrics")
            #expect(status == 200)
            #expect(Self.sample(text, #"herd_reports_total{outcome="stored"}"#) == 6)
            #expect(Self.sample(text, #"herd_reports_total{outcome="duplicate"}"#) == 1)
            #expect(Self.sample(text, #"herd_ingest_duration_seconds_count"#) == 7)
            #expect((Self.sample(text, #"herd_store_write_duration_seconds_count"#) ?? 0) >= 1)
            #expect(Self.sample(text, #"herd_refusals_total{code="malformed"}"#) == 1)
            #expect(Self.sample(text, #"herd_instances{state="critical"}"#) == 1)
            #expect(Self.sample(text, #"herd_instances{state="ok"}"#) == 1)
            #expect(Self.sample(text, #"herd_instances{state="silent"}"#) == 0)
            #expect(Self.sample(text, #"herd_incidents_open{severity="critical"}"#) == 1)
            #expect(Self.sample(text, #"herd_check_status{domain="sick.metrics.example",check="services"}"#) == 3)
            #expect(Self.sample(text, #"herd_check_status{domain="well.metrics.example",check="disk"}"#) == 0)
            #expect(
                (Self.sample(text, #"herd_notification_deliveries_total{sink="ops",outcome="delivered"}"#) ?? 0) >= 1)
            #expect(Self.sample(text, "herd_leader") == 1)
            #expect(Self.sample(text, "herd_store_up") == 1)

            // promtool reads the exposition as Prometheus would, and lints it.
            let directory = try TemporaryDirectory("herd-metrics")
            defer { directory.remove() }
            try text.write(toFile: directory.file("metrics.txt"), atomically: true, encoding: .utf8)
            let checked = try runExecutable(
                try Self.promtool, ["check", "metrics"], input: directory.file("metrics.txt"))
            #expect(checked.status == 0, "\(checked.output)")
            #expect(checked.output.isEmpty, "promtool's lint: \(checked.output)")

            // The alert rules and the dashboard use only series this exposition has.
            let exposed = Self.families(in: text)
            for file in ["deploy/prometheus/herd-rules.yml", "deploy/grafana/herd-dashboard.json"] {
                let used = Self.families(in: try String(contentsOfFile: RepositoryPaths.path(file), encoding: .utf8))
                #expect(!used.isEmpty)
                #expect(used.subtracting(exposed).isEmpty, "\(file) names \(used.subtracting(exposed).sorted())")
            }

            let health = try await Self.get(metrics + "/health")
            #expect(health.status == 200 && health.body.contains(#""status":"ok""#))
            let ready = try await Self.get(metrics + "/ready")
            #expect(ready.status == 200 && ready.body.contains(#""status":"ready""#), "\(ready.body)")
            let missing = try await Self.get(metrics + "/v1/fleet")
            #expect(missing.status == 404)
        }
    }

    /// PostgreSQL stopped under a replica: `/ready` says 503 with the reason, `/metrics` still answers with
    /// `herd_store_up 0`; once PostgreSQL is back both recover.
    @Test func readinessFollowsTheStore() async throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        try cluster.sql("CREATE DATABASE herd")
        let replicas = try ReplicaSet(
            binary: try BuiltProduct.path("herd-controller"), replicas: 1,
            store: "postgresql://postgres:postgres-secret@127.0.0.1:\(cluster.port)/herd?sslmode=disable")
        defer { replicas.stop() }
        let metrics = "http://127.0.0.1:\(try #require(replicas.process(0)).metricsPort)"
        #expect(try await Self.get(metrics + "/ready").status == 200)
        try cluster.halt()
        let down = try await Self.get(metrics + "/ready")
        #expect(down.status == 503 && down.body.contains("the store"), "\(down.body)")
        let scraped = try await Self.get(metrics + "/metrics")
        #expect(scraped.status == 200)
        #expect(Self.sample(scraped.body, "herd_store_up") == 0)
        #expect(try await Self.get(metrics + "/health").status == 200)
        try cluster.resume()
        let deadline = ContinuousClock.now + .seconds(60)
        var ready = 0
        while ready != 200, ContinuousClock.now < deadline {
            ready = try await Self.get(metrics + "/ready").status
            if ready != 200 { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(ready == 200)
        #expect(Self.sample(try await Self.get(metrics + "/metrics").body, "herd_store_up") == 1)
    }

    /// `metrics.tls = mutual`: no plain HTTP, an operator's certificate reads `/metrics`, an agent's is
    /// refused it; `/health` takes any certificate of the fleet.
    @Test func mutualTLSMetricsTakeOperatorsOnly() async throws {
        try await Failover.withClients { clients in
            let replicas = try ReplicaSet(
                binary: try BuiltProduct.path("herd-controller"), replicas: 1, store: "sqlite",
                settings: ["metrics.tls = mutual"])
            defer { replicas.stop() }
            let base = "https://127.0.0.1:\(replicas.port)"
            let port = try #require(replicas.process(0)).metricsPort
            let (caPEM, operatorClient) = try clients.operatorClient(of: replicas)
            let agent = try await Failover.enroll(
                "tls.metrics.example", at: base, caPEM: caPEM, operator: operatorClient,
                anonymous: try clients.make(caPEM: caPEM, identity: nil), clients: clients)
            await #expect(throws: (any Error).self) { try await Self.get("http://127.0.0.1:\(port)/metrics") }
            func get(_ client: HTTPClient, _ path: String) async throws -> (Int, String) {
                let response = try await client.execute(
                    HTTPClientRequest(url: "https://127.0.0.1:\(port)\(path)"), timeout: .seconds(20))
                return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 16 << 20)))
            }
            let asOperator = try await get(operatorClient, "/metrics")
            #expect(asOperator.0 == 200 && asOperator.1.contains("herd_leader 1"), "\(asOperator.1.prefix(200))")
            let asAgent = try await get(agent.client, "/metrics")
            #expect(asAgent.0 == 403, "\(asAgent.1)")
            #expect(try await get(agent.client, "/health").0 == 200)
            let anonymous = try clients.make(caPEM: caPEM, identity: nil)
            await #expect(throws: (any Error).self) { _ = try await get(anonymous, "/health") }
        }
    }

    /// The alert rules load and their unit tests pass; the scrape example is a valid Prometheus config.
    @Test func promtoolChecksTheRulesAndTheScrapeExample() throws {
        let promtool = try Self.promtool
        let rules = RepositoryPaths.path("deploy/prometheus/herd-rules.yml")
        let checked = try runExecutable(promtool, ["check", "rules", rules])
        #expect(checked.status == 0, "\(checked.output)")
        let tested = try runExecutable(
            promtool, ["test", "rules", RepositoryPaths.path("deploy/prometheus/herd-rules.test.yml")])
        #expect(tested.status == 0, "\(tested.output)")
        // The example's certificate paths, made real in a temporary directory.
        let directory = try TemporaryDirectory("herd-promtool")
        defer { directory.remove() }
        var config = try String(
            contentsOfFile: RepositoryPaths.path("deploy/prometheus/prometheus.yml"), encoding: .utf8)
        config = config.replacingOccurrences(of: "/etc/prometheus/herd/", with: directory.path + "/")
        try config.write(toFile: directory.file("prometheus.yml"), atomically: true, encoding: .utf8)
        for file in ["ca.pem", "certificate.pem", "tls-key.pem"] {
            try "".write(toFile: directory.file(file), atomically: true, encoding: .utf8)
        }
        try String(contentsOfFile: rules, encoding: .utf8).write(
            toFile: directory.file("herd-rules.yml"), atomically: true, encoding: .utf8)
        let valid = try runExecutable(promtool, ["check", "config", directory.file("prometheus.yml")])
        #expect(valid.status == 0, "\(valid.output)")
    }
}
