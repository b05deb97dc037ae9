/// Group commit: one writer takes every accepted report and stores them in batches, one transaction —
/// one fsync — per batch, and answers each caller only once its batch is durable. While a batch commits,
/// the next one gathers, so under load batches grow by themselves and the disk sees few fsyncs; an idle
/// controller still commits a lone report at once (or after `linger`, when set, to gather more).
public actor ReportWriter {
    private let store: Store
    private let maxBatch: Int
    private let linger: Duration
    private let engine: PatternEngine
    private let metrics: ControllerMetrics?
    private var pending: [(report: AcceptedReport, reply: CheckedContinuation<Bool, any Error>)] = []
    private var flushing = false

    /// Batches written and reports in them, for metrics and benchmarks.
    public private(set) var batches = 0
    public private(set) var reports = 0

    public init(
        store: Store, maxBatch: Int = 512, linger: Duration = .zero, patterns: PatternEngine = PatternEngine(),
        metrics: ControllerMetrics? = nil
    ) {
        self.store = store
        self.metrics = metrics
        self.engine = patterns
        self.maxBatch = max(1, maxBatch)
        self.linger = linger
    }

    /// Stores `report` durably: `true` when stored, `false` when it was a retry already stored.
    public func submit(_ report: AcceptedReport) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((report, continuation))
            if !flushing {
                flushing = true
                Task { await self.flushLoop() }
            }
        }
    }

    private func flushLoop() async {
        if linger > .zero { try? await Task.sleep(for: linger) }
        while !pending.isEmpty {
            let batch = Array(pending.prefix(maxBatch))
            pending.removeFirst(batch.count)
            do {
                let started = ContinuousClock.now
                let stored = try await store.write(batch.map(\.report), patterns: engine)
                metrics?.storeWriteSeconds.record(ContinuousClock.now - started)
                batches += 1
                reports += batch.count
                for (entry, wasStored) in zip(batch, stored) { entry.reply.resume(returning: wasStored) }
            } catch {
                // Nothing of the batch was stored (one transaction). Write each alone, so that one report
                // the database refuses cannot take the others down with it.
                for entry in batch {
                    do {
                        entry.reply.resume(returning: try await store.write([entry.report], patterns: engine)[0])
                        batches += 1
                        reports += 1
                    } catch {
                        entry.reply.resume(throwing: error)
                    }
                }
            }
        }
        flushing = false
    }
}
