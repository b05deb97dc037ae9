import ArgumentParser
import HerdTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Timing helpers shared by the benchmarks: rounds of a fixed number of operations on one thread.
/// Both wall time and the thread's CPU time are taken, so time the VM spends elsewhere shows as a gap.
enum Bench {
    struct Result {
        var medianMicros: Double
        var bestMicros: Double
        var medianCPUMicros: Double
    }

    static func rounds(_ rounds: Int, iterations: Int, _ body: () throws -> Void) rethrows -> Result {
        let clock = ContinuousClock()
        for _ in 0..<max(1, iterations / 10) { try body() }  // warm-up
        var perOp: [Double] = []
        var cpuPerOp: [Double] = []
        for _ in 0..<rounds {
            let cpuStart = threadCPUMicros()
            let elapsed = try clock.measure {
                for _ in 0..<iterations { try body() }
            }
            cpuPerOp.append((threadCPUMicros() - cpuStart) / Double(iterations))
            perOp.append(micros(elapsed) / Double(iterations))
        }
        perOp.sort()
        cpuPerOp.sort()
        return Result(
            medianMicros: perOp[perOp.count / 2], bestMicros: perOp[0], medianCPUMicros: cpuPerOp[cpuPerOp.count / 2])
    }

    /// Runs a tool to its end and returns its output; a non-zero exit status is an error.
    static func tool(_ path: String, _ arguments: [String]) throws -> String {
        let (status, output) = try runExecutable(path, arguments)
        guard status == 0 else { throw ValidationError("\(path) \(arguments): \(output)") }
        return output
    }

    static func threadCPUMicros() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) * 1e6 + Double(spec.tv_nsec) / 1e3
    }

    static func micros(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) * 1e-12
    }

    static func format(_ value: Double, decimals: Int = 1) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        return decimals == 0 ? String(Int(rounded)) : String(rounded)
    }
}

/// A plain-text table for benchmark output, pasted as-is into BENCHMARKS.md.
struct BenchTable {
    let columns: [String]
    var rows: [[String]] = []

    init(columns: [String]) { self.columns = columns }

    mutating func add(_ row: [String]) { rows.append(row) }

    func print() {
        let all = [columns] + rows
        let widths = columns.indices.map { index in all.map { $0[index].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: " | ")
                + " |"
        }
        Swift.print(line(columns))
        Swift.print("|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|")
        for row in rows { Swift.print(line(row)) }
    }
}
