import AsyncHTTPClient
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing

/// `GET /v1/instances/DOMAIN/history` and `herdctl history` on a real controller holding three days of
/// one instance's reports, rolled up as retention does: hourly rollups before `raw_since`, raw results
/// after, paging by `next`, and every bad parameter refused with its code.
@Suite(.serialized) struct HistoryRouteTests {
    typealias Server = ControllerServerTests

    /// A controller with `social.example`'s last three days, a report every 10 minutes: disk's
    /// `used_percent` is the report's number, sidekiq is critical during the hour that started
    /// 30 hours ago.
    static func seeded() async throws -> (Server.Running, now: Double, criticalHour: Double) {
        let running = try await Server.Running()
        let agent = try await Server.enroll(running, instance: "social.example")
        let now = Date().timeIntervalSince1970
        let top = (now / 3600).rounded(.down) * 3600
        let start = top - 72 * 3600
        let criticalHour = top - 30 * 3600
        var batch: [AcceptedReport] = []
        var sequence: UInt64 = 0
        var at = start
        while at < now {
            sequence += 1
            let critical = at >= criticalHour && at < criticalHour + 3600
            let results = [
                CheckResult(
                    checkID: "disk", status: .ok, summary: "disk is fine", durationMilliseconds: 1,
                    metrics: ["used_percent": Double(sequence)]),
                CheckResult(
                    checkID: "sidekiq", status: critical ? .critical : .ok,
                    summary: critical ? "sidekiq is down" : "sidekiq is fine", durationMilliseconds: 1,
                    findings: at > now - 3600
                        ? [Finding(category: .objectStorage, signature: "S3 500", count: 2, sample: "InternalError")]
                        : []),
            ]
            let report = Report(
                agentID: agent.id, instance: agent.instance, sequence: sequence,
                collectedAt: Date(timeIntervalSince1970: at),
                sentAt: Date(timeIntervalSince1970: at), agentVersion: "0.1.0", intervalSeconds: 600,
                host: HostFacts(hostname: "masto-1"), results: results)
            batch.append(AcceptedReport(agentID: agent.id, report: report, receivedAt: at))
            at += 600
        }
        _ = try await running.controller.store.write(batch)
        _ = try await running.controller.store.retain(now: now, rawDays: 14, rollupDays: 400)
        return (running, now, criticalHour)
    }

    @Test func hoursBeforeRawSinceAndRawResultsAfterPageByPage() async throws {
        let (running, now, criticalHour) = try await Self.seeded()
        do {
            let client = try running.client(identity: try running.operatorIdentity)
            let base = running.url + "/v1/instances/social.example/history"
            let since = WireTime.format(Date(timeIntervalSince1970: now - 72 * 3600))
            let answer = try await Server.call(client, .GET, base + "?since=\(since)&raw_hours=6")
            #expect(answer.status == 200, "\(answer.text)")
            let history = try JSONCodable.decode(OperatorAPI.History.self, from: Data(answer.body))
            let rawSince = history.rawSince.timeIntervalSince1970
            #expect(rawSince == ((now - 6 * 3600) / 3600).rounded(.down) * 3600)
            // Every complete hour before raw_since is one rollup per check; every report after it is raw.
            #expect(history.hours.allSatisfy { $0.hour.timeIntervalSince1970 < rawSince })
            #expect(history.hours.count == 2 * Int((rawSince - history.hours[0].hour.timeIntervalSince1970) / 3600))
            #expect(history.results.allSatisfy { $0.collectedAt.timeIntervalSince1970 >= rawSince })
            #expect(history.results.count == 2 * Int(((now - rawSince) / 600).rounded(.up)))
            #expect(history.next == nil)
            let newest = try #require(history.results.last { $0.checkId == "sidekiq" })
            #expect(
                newest.findings == [
                    .init(category: "object_storage", signature: "S3 500", count: 2, sample: "InternalError")
                ])
            let critical = try #require(
                history.hours.first { $0.checkId == "sidekiq" && $0.hour.timeIntervalSince1970 == criticalHour })
            #expect(critical.worst == "critical" && critical.critical == 6 && critical.ok == 0)
            #expect(history.hours.filter { $0.worst == "critical" }.count == 1)
            let disk = try #require(history.hours.first { $0.checkId == "disk" })
            let used = try #require(disk.metrics["used_percent"])
            #expect(used.samples == 6 && used.max - used.min == 5 && used.avg == (used.min + used.max) / 2)

            // One check; and the raw part in pages of at most 7 results, which add up to the whole.
            let onlyDisk = try JSONCodable.decode(
                OperatorAPI.History.self,
                from: Data(try await Server.call(client, .GET, base + "?since=\(since)&raw_hours=6&check=disk").body))
            #expect(Set(onlyDisk.hours.map(\.checkId) + onlyDisk.results.map(\.checkId)) == ["disk"])
            var paged: [OperatorAPI.HistoryResult] = []
            var from = WireTime.format(history.rawSince)
            var pages = 0
            while true {
                let page = try JSONCodable.decode(
                    OperatorAPI.History.self,
                    from: Data(try await Server.call(client, .GET, base + "?since=\(from)&raw_hours=6&limit=7").body))
                #expect(page.results.count <= 7)
                paged += page.results
                pages += 1
                guard let next = page.next else { break }
                from = WireTime.format(next)
            }
            #expect(pages > 1)
            #expect(paged == history.results)

            // What is refused, with its code; nothing about another instance leaks.
            for (query, status, code) in [
                ("?since=yesterday", 422, "invalid_field"), ("?since=1733000000", 422, "invalid_field"),
                ("?raw_hours=0", 422, "invalid_field"), ("?raw_hours=169", 422, "invalid_field"),
                ("?limit=20001", 422, "invalid_field"), ("?limit=ten", 422, "invalid_field"),
                ("?check=Disk%20Space", 422, "invalid_field"),
                ("?since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", 422, "invalid_field"),
                ("?since=1000-01-01T00:00:00Z", 422, "invalid_field"),
            ] {
                let refused = try await Server.call(client, .GET, base + query)
                #expect(refused.status == status && refused.errorCode == code, "\(query): \(refused.text)")
            }
            let unknown = try await Server.call(client, .GET, running.url + "/v1/instances/other.example/history")
            #expect(unknown.status == 404 && unknown.errorCode == "not_found")
            let agent = try await Server.enroll(running, instance: "agent.example")
            let asAgent = try running.client(identity: (agent.certificatePEM, agent.keyPEM))
            let forbidden = try await Server.call(asAgent, .GET, base)
            #expect(forbidden.status == 403 && forbidden.errorCode == "forbidden")
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }

    /// herdctl history: runs of hours and of results as text; --json every row; bad options are usage
    /// errors before any request.
    @Test func herdctlHistoryShowsRunsAndJSON() async throws {
        let (running, _, criticalHour) = try await Self.seeded()
        do {
            let config = try running.herdctlConfig()
            let text = try await BuiltProduct.runOffThread(
                "herdctl", ["history", "social.example", "--since", "3d", "--raw-hours", "6", "--config", config])
            #expect(text.status == 0, "\(text.output)")
            let criticalLine = text.output.split(separator: "\n").first { $0.contains("critical") }
            #expect(
                criticalLine?.contains("sidekiq  \(Output.timestamp(criticalHour))") == true,
                "\(text.output)")
            #expect(text.output.contains("used_percent"))
            #expect(text.output.contains("Raw, from"))
            let json = try await BuiltProduct.runOffThread(
                "herdctl",
                ["history", "social.example", "--check", "sidekiq", "--since", "36h", "--json", "--config", config])
            #expect(json.status == 0, "\(json.output)")
            let history = try JSONCodable.decode(OperatorAPI.History.self, from: Data(json.output.utf8))
            #expect(history.hours.contains { $0.worst == "critical" })
            #expect(Set(history.results.map(\.checkId)) == ["sidekiq"])
            for arguments in [
                ["history", "Social.Example"], ["history", "social.example", "--since", "forever"],
                ["history", "social.example", "--raw-hours", "0"], ["history", "social.example", "--check", "a b"],
                ["history", "social.example", "--since", "1h", "--until", "2h"],
            ] {
                let refused = try await BuiltProduct.runOffThread("herdctl", arguments + ["--config", config])
                #expect(refused.status == 2, "\(arguments): \(refused.output)")
            }
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }

    enum Output {
        /// herdctl's `2026-11-22 03:10:54Z`.
        static func timestamp(_ seconds: Double) -> String {
            var time = time_t(seconds)
            var parts = tm()
            gmtime_r(&time, &parts)
            return String(
                format: "%04d-%02d-%02d %02d:%02d:%02dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                parts.tm_hour, parts.tm_min, parts.tm_sec)
        }
    }
}
