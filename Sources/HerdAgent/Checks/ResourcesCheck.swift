import HerdProtocol

/// Playbook step 7, "is the machine starved" (the OOM killer's precondition): load per CPU, CPU busy
/// and iowait from /proc/stat deltas, MemAvailable, swap, and pressure stall information from
/// /proc/pressure when the kernel has it.
public struct ResourcesCheck: BlockingCheck {
    public let id = "resources"
    public let title = "Load, CPU, available memory, swap and pressure stalls from /proc"
    public let playbookStep = "7 · is the OOM killer at work (memory and CPU headroom)"

    public init() {}

    public func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        let fs = context.filesystem
        let memory = try Self.meminfo(fs.readText("/proc/meminfo"))
        let load = try Self.loadavg(fs.readText("/proc/loadavg"))
        let cpu = try Self.cpuTimes(fs.readText("/proc/stat"))
        var pressure: [String: Double] = [:]
        for resource in ["cpu", "memory", "io"] {
            if let text = try? fs.readText("/proc/pressure/\(resource)") {
                for (key, value) in Self.pressure(text) { pressure["pressure.\(resource).\(key)"] = value }
            }
        }
        return Self.evaluate(
            memoryKiB: memory, load: load, cpu: cpu, pressure: pressure, configuration: context.configuration,
            memory: context.memory)
    }

    struct CPUTimes: Hashable {
        var total: Double
        var idle: Double
        var iowait: Double
        var count: Int
    }

    static func evaluate(
        memoryKiB: [String: Double], load: [Double], cpu: CPUTimes?, pressure: [String: Double],
        configuration: AgentConfiguration, memory previous: CheckMemory
    ) -> CheckOutcome {
        var metrics = pressure
        var memory = CheckMemory()
        var status = CheckStatus.ok
        var parts: [String] = []

        if let total = memoryKiB["MemTotal"], total > 0, let available = memoryKiB["MemAvailable"] {
            let ratio = available / total
            metrics["memory.available_ratio"] = ratio
            metrics["memory.available_bytes"] = available * 1024
            metrics["memory.total_bytes"] = total * 1024
            parts.append("memory \(Describe.percent(ratio)) available (\(Describe.bytes(UInt64(available * 1024))))")
            if ratio * 100 <= configuration.memoryCriticalAvailablePercent {
                status = .critical
            } else if ratio * 100 <= configuration.memoryWarningAvailablePercent {
                status = .warning
            }
        } else {
            parts.append("no MemAvailable in /proc/meminfo")
            status = .warning
        }
        if let swapTotal = memoryKiB["SwapTotal"], swapTotal > 0, let swapFree = memoryKiB["SwapFree"] {
            let used = (swapTotal - swapFree) / swapTotal
            metrics["swap.used_ratio"] = used
            if used >= 0.5 { parts.append("swap \(Describe.percent(used)) used") }
        }
        if load.count >= 3 {
            metrics["load1"] = load[0]
            metrics["load5"] = load[1]
            metrics["load15"] = load[2]
        }
        if let cpu {
            metrics["cpus"] = Double(cpu.count)
            if load.count >= 1 && cpu.count > 0 {
                let perCPU = load[0] / Double(cpu.count)
                metrics["load1_per_cpu"] = perCPU
                if perCPU >= 2 {
                    status = max(status, .warning)
                    parts.append("load \(Describe.decimal(load[0])) on \(cpu.count) CPUs")
                }
            }
            memory.numbers = ["cpu.total": cpu.total, "cpu.idle": cpu.idle, "cpu.iowait": cpu.iowait]
            if let total = previous.numbers["cpu.total"], let idle = previous.numbers["cpu.idle"],
                let iowait = previous.numbers["cpu.iowait"], cpu.total > total
            {
                let elapsed = cpu.total - total
                let busy = max(0, 1 - (cpu.idle - idle + cpu.iowait - iowait) / elapsed)
                metrics["cpu.busy_ratio"] = busy
                metrics["cpu.iowait_ratio"] = max(0, (cpu.iowait - iowait) / elapsed)
                parts.append("CPU \(Describe.percent(busy)) busy")
            }
        }
        if let stall = pressure["pressure.memory.full_avg60"], stall >= configuration.pressureWarningPercent {
            status = max(status, .warning)
            parts.append("memory pressure: all tasks stalled \(Describe.decimal(stall))% of the last minute")
        } else if let stall = pressure["pressure.memory.some_avg60"], stall >= configuration.pressureWarningPercent {
            status = max(status, .warning)
            parts.append("memory pressure: some tasks stalled \(Describe.decimal(stall))% of the last minute")
        }
        if let stall = pressure["pressure.io.full_avg60"], stall >= configuration.pressureWarningPercent {
            status = max(status, .warning)
            parts.append("I/O pressure \(Describe.decimal(stall))%")
        }
        return CheckOutcome(status, parts.joined(separator: ", "), metrics: metrics, memory: memory)
    }

    /// `/proc/meminfo`: name → kB.
    static func meminfo(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let number = line[line.index(after: colon)...].split(separator: " ").first
            if let number, let value = Double(number) { values[String(line[..<colon])] = value }
        }
        return values
    }

    /// `/proc/loadavg`: the 1, 5 and 15 minute averages.
    static func loadavg(_ text: String) -> [Double] {
        text.split(separator: " ").prefix(3).compactMap { Double($0) }
    }

    /// The aggregate `cpu` line of `/proc/stat` (jiffies) and the number of `cpuN` lines.
    static func cpuTimes(_ text: String) -> CPUTimes? {
        var aggregate: [Double] = []
        var count = 0
        for line in text.split(separator: "\n") where line.hasPrefix("cpu") {
            if line.hasPrefix("cpu ") {
                aggregate = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            } else {
                count += 1
            }
        }
        // user nice system idle iowait irq softirq steal (guest times are inside user and nice)
        guard aggregate.count >= 5 else { return nil }
        let total = aggregate.prefix(8).reduce(0, +)
        return CPUTimes(total: total, idle: aggregate[3], iowait: aggregate[4], count: count)
    }

    /// `/proc/pressure/*`: `some_avg10`, `some_avg60`, `full_avg60`, … in percent.
    static func pressure(_ text: String) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard let kind = fields.first, kind == "some" || kind == "full" else { continue }
            for field in fields.dropFirst() {
                let pair = field.split(separator: "=")
                guard pair.count == 2, pair[0].hasPrefix("avg"), let value = Double(pair[1]) else { continue }
                values["\(kind)_\(pair[0])"] = value
            }
        }
        return values
    }
}
