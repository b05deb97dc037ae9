import Foundation
import HerdProtocol
import Prometheus
import Synchronization

/// What `/metrics` exposes (Controller/README.md "Metrics" lists each series). Counters and histograms
/// move as requests, batches and deliveries happen, in this process; gauges are read from the store at
/// each scrape (`refresh`), so every replica shows the same fleet and `herd_leader` tells them apart.
public final class ControllerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let reportsStored: Counter
    let reportsDuplicate: Counter
    let ingestSeconds: DurationHistogram
    let storeWriteSeconds: DurationHistogram
    let storeUp: Gauge
    let leader: Gauge
    let leaderEpoch: Gauge
    let silentAgents: Gauge
    let notificationsPending: Gauge
    /// The labelled gauges last set, by family, so a label value that disappears reads 0 (a count) or
    /// goes away (an instance's check).
    private let families = Mutex<[String: [String: Gauge]]>([:])

    /// The scale of every latency histogram: 1 ms to 10 s.
    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .microseconds(2_500_000), .seconds(5), .seconds(10),
    ]

    public init() {
        let help = "Reports accepted from agents: stored, or a retry of one already stored (duplicate)."
        let reports = Self.name("reports", unit: "total", help: help)
        reportsStored = registry.makeCounter(descriptor: reports, labels: [("outcome", "stored")])
        reportsDuplicate = registry.makeCounter(descriptor: reports, labels: [("outcome", "duplicate")])
        ingestSeconds = registry.makeDurationHistogram(
            descriptor: Self.name(
                "ingest_duration", unit: "seconds",
                help: "Time to answer an accepted POST /v1/reports, verification and durable storage included."),
            labels: [], buckets: Self.latencyBuckets)
        storeWriteSeconds = registry.makeDurationHistogram(
            descriptor: Self.name(
                "store_write_duration", unit: "seconds",
                help: "Time to write one group-commit batch of reports (one transaction)."),
            labels: [], buckets: Self.latencyBuckets)
        storeUp = registry.makeGauge(
            descriptor: Self.name("store_up", help: "1 when the store answered this scrape's reads, else 0."))
        leader = registry.makeGauge(
            descriptor: Self.name(
                "leader", help: "1 on the replica that does the once-per-fleet work (always 1 on SQLite), else 0."))
        leaderEpoch = registry.makeGauge(
            descriptor: Self.name("leader_epoch", help: "The fencing token this replica leads with (0 on SQLite)."))
        silentAgents = registry.makeGauge(
            descriptor: Self.name(
                "agents_silent", help: "Instances whose agent missed silence.intervals intervals."))
        notificationsPending = registry.makeGauge(
            descriptor: Self.name(
                "notifications_pending", help: "Notifications queued or backing off after a failure."))
        registry.makeGauge(
            descriptor: Self.name("build_info", help: "The controller's version, as a label; always 1."),
            labels: [("version", HerdVersion.current)]
        ).set(to: 1)
    }

    /// `herd_NAME[_UNIT]`, with its help text.
    static func name(_ name: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "herd", metricName: name, unitName: unit, helpText: help)
    }

    /// A report answered: stored now, or a retry of one stored before.
    func ingested(stored: Bool, in duration: Duration) {
        (stored ? reportsStored : reportsDuplicate).increment()
        ingestSeconds.record(duration)
    }

    /// A request refused with `code` (Protocol §7): one series per code the controller sends.
    func refused(_ code: WireError.Code) {
        registry.makeCounter(
            descriptor: Self.name(
                "refusals", unit: "total",
                help: "Requests refused, by the error code of the answer (Protocol section 7)."),
            labels: [("code", code.rawValue)]
        ).increment()
    }

    /// A notification attempt: `delivered`, `retrying` (a failure it will try again) or `failed` (for good).
    func notification(sink: String, outcome: String) {
        registry.makeCounter(
            descriptor: Self.name(
                "notification_deliveries", unit: "total",
                help: "Notification delivery attempts by sink and outcome: delivered, retrying, failed."),
            labels: [("sink", sink), ("outcome", outcome)]
        ).increment()
    }

    /// Reads the fleet's gauges from the store; a store that does not answer sets `herd_store_up` to 0 and
    /// leaves the other gauges as the last scrape read them.
    func refresh(_ controller: Controller) async {
        let store = controller.store
        leader.set(to: store.isLeader ? 1 : 0)
        leaderEpoch.set(to: Double(store.leaderEpoch ?? 0))
        do {
            let now = controller.clock().timeIntervalSince1970
            let fleet = try await store.fleetStatus(
                now: now, silenceIntervals: controller.configuration.silenceIntervals)
            let gauges = try await store.gauges(perInstance: controller.configuration.metricsPerInstance)
            var states: [String: Double] = [:]
            for state in InstanceStatus.Overall.allCases { states[state.rawValue] = 0 }
            for row in fleet { states[row.overall.rawValue, default: 0] += 1 }
            set(
                "instances", label: "state", states,
                help: "Instances by overall state: ok, warning, unknown, critical, silent, waiting.")
            silentAgents.set(to: states[InstanceStatus.Overall.silent.rawValue] ?? 0)
            set(
                "incidents_open", label: "severity", gauges.openIncidents.mapValues(Double.init),
                help: "Open incidents by severity: warning, unknown, critical.")
            set(
                "remediations", label: "state", gauges.remediations.mapValues(Double.init),
                help:
                    "Remediations by state: proposed, approved, dispatched, succeeded, failed, timed_out, refused, lost, denied, expired."
            )
            notificationsPending.set(to: Double(gauges.notificationsPending))
            setChecks(gauges.checks)
            storeUp.set(to: 1)
        } catch {
            storeUp.set(to: 0)
            controller.logger.warning(
                "metrics: the store did not answer", metadata: ["error": "\("\(error)".escapingControlCharacters)"])
        }
    }

    /// The exposition, in Prometheus' text format 0.0.4.
    func exposition(_ controller: Controller) async -> [UInt8] {
        await refresh(controller)
        return registry.emitToBuffer()
    }

    /// One gauge per label value; a value set before and absent now reads 0.
    private func set(_ name: String, label: String, _ values: [String: Double], help: String) {
        families.withLock { families in
            var family = families[name] ?? [:]
            for value in Set(family.keys).union(values.keys) {
                let gauge =
                    family[value]
                    ?? registry.makeGauge(descriptor: Self.name(name, help: help), labels: [(label, value)])
                gauge.set(to: values[value] ?? 0)
                family[value] = gauge
            }
            families[name] = family
        }
    }

    /// `herd_check_status{domain, check}`, the check's severity (`domain`, not `instance`: Prometheus
    /// gives that label to the scraped target); a check or an instance gone is unregistered.
    private func setChecks(_ checks: [StoreGauges.CheckGauge]) {
        let name = "check_status"
        families.withLock { families in
            var family = families[name] ?? [:]
            var seen = Set<String>()
            for check in checks {
                let key = check.instance + " " + check.checkID
                seen.insert(key)
                let gauge =
                    family[key]
                    ?? registry.makeGauge(
                        descriptor: Self.name(
                            name,
                            help:
                                "Each instance's current check status by severity: 0 ok, 1 warning, 2 unknown, 3 critical."
                        ),
                        labels: [("domain", check.instance), ("check", check.checkID)])
                gauge.set(to: Double(check.status.severity))
                family[key] = gauge
            }
            for (key, gauge) in family where !seen.contains(key) {
                registry.unregisterGauge(gauge)
                family[key] = nil
            }
            families[name] = family
        }
    }
}
