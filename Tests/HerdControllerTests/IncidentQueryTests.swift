import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// Finding incidents in a long history: filters by state, instance (fleet memberships included), check
/// and time, pages by `before`, on both stores; and herdctl's filters, pages and shell completion of
/// instance names and incident ids against a real controller.
@Suite(.serialized) struct IncidentQueryTests {
    /// Six instances; a..c lose object storage together (a fleet incident and its members), d and e
    /// lose Sidekiq, and d's recovers.
    static func seed(_ store: Store, fleet: StoreTests.Fleet, engine: PatternEngine, at start: Double) async throws {
        let storage = Finding(category: .objectStorage, signature: "Storage server error", count: 1, sample: nil)
        var agents: [AgentRecord] = []
        for name in ["a", "b", "c", "d", "e", "f"] {
            agents.append(try await fleet.enroll("\(name).example").0)
        }
        for minute in 0..<6 {
            var batch: [AcceptedReport] = []
            for (index, agent) in agents.enumerated() {
                let at = Date(timeIntervalSince1970: start + Double(minute) * 60)
                let results: [CheckResult] =
                    switch index {
                    case 0, 1, 2: [PatternTests.result("logs", .warning, findings: [storage])]
                    case 3: [PatternTests.result("sidekiq", minute < 3 ? .critical : .ok)]
                    case 4: [PatternTests.result("sidekiq", .critical)]
                    default: [PatternTests.result("logs", .ok)]
                    }
                let report = Report(
                    agentID: agent.id, instance: agent.instance, sequence: UInt64(minute + 1), collectedAt: at,
                    sentAt: at, agentVersion: "0.1.0", intervalSeconds: 60,
                    host: HostFacts(hostname: "h", mastodonVersion: "4.3.2", objectStorageEndpoint: "s3.example"),
                    results: results)
                batch.append(AcceptedReport(agentID: agent.id, report: report, receivedAt: at.timeIntervalSince1970))
            }
            _ = try await store.write(batch, patterns: engine)
        }
    }

    static var engine: PatternEngine {
        var settings = PatternSettings()
        settings.persistent.results = 1
        settings.persistent.seconds = 0
        settings.persistent.resolveResults = 2
        settings.fleet.minInstances = 3
        return PatternEngine(settings: settings, routing: NotificationRouting(), groupWait: 0)
    }

    @Test(arguments: StoreKind.allCases) func filtersAndPages(_ kind: StoreKind) async throws {
        let fleet = try StoreTests.Fleet(kind)
        defer { fleet.directory.remove() }
        let store = fleet.store
        try await Self.seed(store, fleet: fleet, engine: Self.engine, at: PatternTests.t0)
        let all = try await store.incidents(openOnly: false)
        #expect(all.count >= 5, "\(all.map(\.subject))")
        #expect(all.map(\.id) == all.map(\.id).sorted(by: >))

        let fleetIncident = try #require(all.first { $0.kind == "fleet" })
        let ofA = try await store.incidents(openOnly: false, instance: "a.example")
        #expect(Set(ofA.map(\.kind)) == ["instance", "fleet"] && ofA.contains { $0.id == fleetIncident.id })
        let sidekiq = try await store.incidents(openOnly: false, check: "sidekiq")
        #expect(Set(sidekiq.compactMap(\.instance)) == ["d.example", "e.example"])
        let resolved = try await store.incidents(openOnly: false, state: "resolved", check: "sidekiq")
        #expect(resolved.map(\.instance) == ["d.example"])
        #expect(try await store.incidents(openOnly: true, check: "sidekiq").map(\.instance) == ["e.example"])
        #expect(try await store.incidents(openOnly: false, instance: "f.example").isEmpty)
        // Changed since: everything changed in the six minutes, nothing after them.
        #expect(try await store.incidents(openOnly: false, since: PatternTests.t0).count == all.count)
        #expect(try await store.incidents(openOnly: false, since: PatternTests.t0 + 6 * 60).isEmpty)

        // The fleet table filtered by an attribute: a reported column, an operator's attribute.
        _ = try await store.setOperatorAttributes(instance: "a.example", set: ["plan": "pro"], remove: [], by: "alice")
        func having(_ name: String, _ value: String) async throws -> [String] {
            try await store.fleetStatus(now: PatternTests.t0 + 400, silenceIntervals: 1000, attribute: (name, value))
                .map(\.instance).sorted()
        }
        #expect(try await having("attribute.plan", "pro") == ["a.example"])
        #expect(try await having("object_storage_endpoint", "s3.example").count == 6)
        #expect(try await having("tag.plan", "pro").isEmpty)
        #expect(try await having("attribute.plan", "free").isEmpty)

        // Pages of two, oldest last, add up to the whole.
        var paged: [Int64] = []
        var before: Int64?
        while true {
            let page = try await store.incidents(openOnly: false, before: before, limit: 2)
            paged += page.map(\.id)
            guard page.count == 2, let last = page.last else { break }
            before = last.id
        }
        #expect(paged == all.map(\.id))
    }

    @Test func herdctlFiltersPagesAndCompletes() async throws {
        let running = try await ControllerServerTests.Running()
        do {
            let engine = Self.engine
            let fleet = try StoreTests.Fleet(store: running.controller.store)
            defer { fleet.directory.remove() }
            try await Self.seed(
                running.controller.store, fleet: fleet, engine: engine, at: Date().timeIntervalSince1970 - 3600)
            let config = try running.herdctlConfig()
            func herdctl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
                try await BuiltProduct.runOffThread("herdctl", arguments, environment: ["HERDCTL_CONFIG": config])
            }
            let sidekiq = try await herdctl(["incidents", "--check", "sidekiq", "--state", "open", "--json"])
            #expect(sidekiq.status == 0, "\(sidekiq.output)")
            let open = try JSONCodable.decode(OperatorAPI.Incidents.self, from: Array(sidekiq.output.utf8))
            #expect(open.incidents.map(\.instance) == ["e.example"] && open.nextBefore == nil)
            let page = try await herdctl(["incidents", "--limit", "2"])
            #expect(page.status == 0 && page.output.contains("--before "), "\(page.output)")
            let recent = try await herdctl(["incidents", "--instance", "a.example", "--since", "2h", "--json"])
            let ofA = try JSONCodable.decode(OperatorAPI.Incidents.self, from: Array(recent.output.utf8))
            #expect(ofA.incidents.contains { $0.kind == "fleet" })
            for arguments in [
                ["incidents", "--state", "closed"], ["incidents", "--open", "--state", "all"],
                ["incidents", "--limit", "0"], ["incidents", "--instance", "A B"], ["incidents", "--since", "soon"],
                ["incidents", "--before", "-3"],
            ] {
                #expect(try await herdctl(arguments).status == 2, "\(arguments)")
            }

            // Completion, as the shell asks for it: instance names for `show`, open incident ids for `ack`.
            let names = try await herdctl(["---completion", "show", "--", "positional@0", "0", "0", ""])
            #expect(
                Set(names.output.split(separator: "\n").map(String.init)).isSuperset(of: ["a.example", "e.example"]),
                "\(names.output)")
            let ids = try await herdctl(["---completion", "ack", "--", "positional@0", "0", "0", ""])
            let openIDs = try await running.controller.store.incidents(openOnly: true).map { String($0.id) }
            #expect(Set(ids.output.split(separator: "\n").map(String.init)) == Set(openIDs), "\(ids.output)")
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }
}
