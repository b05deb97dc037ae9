import FoundationEssentials
import HerdProtocol

/// Playbook step 4, "is the disk full": space and inodes of the filesystems holding the live directory,
/// `public/system` and its `cache/` (remote media), PostgreSQL's data, Redis's dump and `/var/log`, with
/// a time-to-full estimate from the growth the agent has seen (least squares over recent cycles).
public struct DiskCheck: BlockingCheck {
    public let id = "disk"
    public let title = "Disk space and inodes per Mastodon path, with time to full"
    public let playbookStep = "4 · is the disk full"

    /// Samples kept per path for the trend, and how far back they may go.
    static let maxSamples = 48
    static let trendWindow: TimeInterval = 6 * 3600

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        var volumes: [(name: String, path: String, usage: VolumeUsage)] = []
        var skipped: [String] = []
        var problems: [String] = []
        for (name, path) in context.configuration.diskPaths {
            guard context.filesystem.exists(path) else {
                skipped.append(name)
                continue
            }
            do {
                volumes.append((name, path, try context.host.volumes.usage(of: path)))
            } catch {
                problems.append(error.description)
            }
        }
        guard !volumes.isEmpty else {
            return .unknown(problems.first ?? "none of the disk paths exists: \(skipped.joined(separator: ", "))")
        }
        return Self.evaluate(
            volumes, now: context.now.timeIntervalSince1970, configuration: context.configuration,
            memory: context.memory, problems: problems)
    }

    static func evaluate(
        _ volumes: [(name: String, path: String, usage: VolumeUsage)], now: TimeInterval,
        configuration: AgentConfiguration, memory previous: CheckMemory, problems: [String]
    ) -> CheckOutcome {
        var memory = CheckMemory()
        var metrics: [String: Double] = [:]
        var status = CheckStatus.ok
        var worst: (score: Double, text: String)?
        var findings: [Finding] = []
        var seenFilesystems: Set<UInt64> = []
        for (name, path, usage) in volumes {
            metrics["\(name).used_ratio"] = usage.usedRatio
            metrics["\(name).available_bytes"] = Double(usage.availableBytes)
            metrics["\(name).inodes_used_ratio"] = usage.inodesUsedRatio

            // The trend: times and used bytes of recent cycles, this one appended.
            var times = previous.series["\(name).t"] ?? []
            var used = previous.series["\(name).used"] ?? []
            if times.count != used.count
                || (previous.strings["\(name).fs"].map { $0 != String(usage.filesystemID) } ?? false)
            {
                times = []
                used = []
            }
            times.append(now)
            used.append(Double(usage.usedBytes))
            while let first = times.first, times.count > maxSamples || now - first > trendWindow {
                times.removeFirst()
                used.removeFirst()
            }
            memory.series["\(name).t"] = times
            memory.series["\(name).used"] = used
            memory.strings["\(name).fs"] = String(usage.filesystemID)

            var text = "\(name) \(Describe.percent(usage.usedRatio)) used, \(Describe.bytes(usage.availableBytes)) free"
            var level = CheckStatus.ok
            let percent = usage.usedRatio * 100
            let inodes = usage.inodesUsedRatio * 100
            if percent >= configuration.diskCriticalPercent || inodes >= configuration.diskCriticalPercent {
                level = .critical
            } else if percent >= configuration.diskWarningPercent || inodes >= configuration.diskWarningPercent {
                level = .warning
            }
            if inodes >= configuration.diskWarningPercent {
                text += ", inodes \(Describe.percent(usage.inodesUsedRatio))"
            }
            if let hours = hoursToFull(times: times, used: used, available: Double(usage.availableBytes)) {
                metrics["\(name).hours_to_full"] = hours
                text += ", full in ~\(Describe.hours(hours))"
                if hours <= configuration.diskCriticalHoursToFull {
                    level = .critical
                } else if hours <= configuration.diskWarningHoursToFull {
                    level = max(level, .warning)
                }
            }
            status = max(status, level)
            let score = Double(level.severity) * 10 + usage.usedRatio
            if worst == nil || score > worst!.score { worst = (score, text) }
            if level != .ok && seenFilesystems.insert(usage.filesystemID).inserted {
                findings.append(
                    Finding(category: .diskFull, signature: "volume nearly full", count: 1, sample: "\(path): \(text)"))
            }
        }
        var summary = worst?.text ?? ""
        if volumes.count > 1 { summary += " (worst of \(volumes.count) paths)" }
        if !problems.isEmpty {
            status = max(status, .warning)
            summary += "; " + problems.joined(separator: "; ")
        }
        return CheckOutcome(status, summary, metrics: metrics, findings: findings, memory: memory)
    }

    /// Hours until `available` reaches zero at the least-squares growth rate of `used` over `times`;
    /// nil unless there are 3 samples over at least 10 minutes and the usage grows.
    static func hoursToFull(times: [Double], used: [Double], available: Double) -> Double? {
        guard times.count >= 3, let first = times.first, let last = times.last, last - first >= 600 else { return nil }
        let n = Double(times.count)
        let meanT = times.reduce(0, +) / n
        let meanU = used.reduce(0, +) / n
        var covariance = 0.0
        var variance = 0.0
        for (t, u) in zip(times, used) {
            covariance += (t - meanT) * (u - meanU)
            variance += (t - meanT) * (t - meanT)
        }
        guard variance > 0 else { return nil }
        let bytesPerSecond = covariance / variance
        guard bytesPerSecond > 0 else { return nil }
        return available / bytesPerSecond / 3600
    }
}
