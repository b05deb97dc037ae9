import HerdProtocol

/// Playbook step 7, "is the OOM killer at work": new OOM kills in the kernel log (`journalctl -k`, or a
/// file such as /var/log/kern.log), in old and new kernel wordings, naming the victim process and the
/// unit it ran in — `bundle` in mastodon-sidekiq is a different fix from `postgres` or `ffmpeg`.
public struct OOMCheck: BlockingCheck {
    public let id = "oom"
    public let title = "OOM kills in the kernel log: victim process and unit"
    public let playbookStep = "7 · is the OOM killer at work"

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        var memory = context.memory
        var scan = Scan()
        let source = context.configuration.kernelLog
        if source == "journal" {
            _ = try context.readJournal(units: [], kernel: true, memory: &memory) { line, _ in scan.feed(line) }
        } else {
            _ = try context.followFile(source, memory: &memory) { scan.feed($0) }
        }
        return Self.evaluate(scan, memory: memory)
    }

    struct Scan {
        var parser = OOMKillParser()
        var kills: [String: (count: Int, sample: String)] = [:]
        var order: [String] = []
        var lines = 0

        mutating func feed(_ line: UnsafeBufferPointer<UInt8>) {
            lines += 1
            // Cheap pre-filter: every line of interest holds "ill" (Killed, oom-kill).
            guard line.count >= 6, line.count <= 4096 else { return }
            let text = String(decoding: line, as: UTF8.self)
            guard text.contains("ill"), let kill = parser.feed(text[...]) else { return }
            let key = kill.process + (kill.unit.map { " (\($0))" } ?? "")
            if let entry = kills[key] {
                kills[key] = (entry.count + 1, entry.sample)
            } else if kills.count < Limits.maxFindingsPerResult {
                kills[key] = (1, Redactor.sample(line))
                order.append(key)
            }
        }
    }

    static func evaluate(_ scan: Scan, memory: CheckMemory) -> CheckOutcome {
        let total = scan.kills.values.reduce(0) { $0 + $1.count }
        let findings = scan.order.map { key in
            let entry = scan.kills[key]!
            return Finding(
                category: .oomKill, signature: "OOM killed \(key)", count: UInt64(entry.count), sample: entry.sample)
        }
        let metrics: [String: Double] = ["kills": Double(total), "lines": Double(scan.lines)]
        guard total > 0 else {
            return CheckOutcome(
                .ok, "no OOM kills in \(scan.lines) new kernel log lines", metrics: metrics, memory: memory)
        }
        let victims = scan.order.map { "\($0) ×\(scan.kills[$0]!.count)" }.joined(separator: ", ")
        return CheckOutcome(
            .critical, "\(total) OOM kill\(total == 1 ? "" : "s"): \(victims)", metrics: metrics, findings: findings,
            memory: memory)
    }
}
