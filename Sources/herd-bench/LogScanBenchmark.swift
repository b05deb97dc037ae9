import ArgumentParser
import Foundation
import HerdAgent

/// Log-scan throughput: the classifier over a large realistic log, against `grep -c -E` with the same
/// alternation of patterns, in the same run; and `herd-agent scan-log` against `rg -c` with the same
/// signatures, whole process against whole process.
struct LogScanBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logscan",
        abstract: "Classify a generated realistic log of --size-mib and compare with grep -c -E.")

    @Option(help: "Size of the generated log in MiB.")
    var sizeMib = 1024

    @Option(help: "Use this log instead of generating one.")
    var file: String?

    @Flag(help: "Keep the generated log (its path is printed) for runs with --file.")
    var keep = false

    mutating func validate() throws {
        guard (1...65_536).contains(sizeMib) else { throw ValidationError("--size-mib must be 1…65536") }
    }

    func run() throws {
        let path: String
        var generated = false
        if let file {
            path = file
        } else {
            path = NSTemporaryDirectory() + "herd-logscan-\(getpid()).log"
            let clock = ContinuousClock()
            let elapsed = try clock.measure { try RealisticLog.write(to: path, bytes: sizeMib << 20) }
            print("generated \(sizeMib) MiB at \(path) in \(elapsed)")
            generated = true
        }
        defer { if generated && !keep { unlink(path) } }
        let size = Double((try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0)

        // Herd: LineReader + LogClassifier, as `herd-agent scan-log` runs them.
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot open \(path)") }
        var classifier = LogClassifier()
        var reader = LineReader(fd: fd)
        let cpuStart = Bench.threadCPUMicros()
        let herdElapsed = try ContinuousClock().measure {
            try reader.forEachLine { line, number in classifier.feed(line, number: number) }
        }
        let herdCPU = (Bench.threadCPUMicros() - cpuStart) / 1e6
        close(fd)
        let tallies = classifier.finish()
        let events = tallies.reduce(0) { $0 + $1.count }

        // grep: the same signatures as one extended regex, bytes only (LC_ALL=C).
        let patterns = SignatureTable.builtIn.signatures.map { signature in
            signature.fragments.map { Self.escapeERE(String(decoding: $0, as: UTF8.self)) }.joined(separator: ".*")
        }
        let pattern = patterns.joined(separator: "|")
        let grep = Process()
        grep.executableURL = URL(fileURLWithPath: "/usr/bin/grep")
        grep.arguments = ["-c", "-E", "-e", pattern, path]
        grep.environment = ["LC_ALL": "C"]
        let output = Pipe()
        grep.standardOutput = output
        let grepElapsed = try ContinuousClock().measure {
            try grep.run()
            grep.waitUntilExit()
        }
        let grepCount = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)

        // Whole process against whole process: `herd-agent scan-log` (next to this herd-bench) and
        // ripgrep with the same signatures, when both are there.
        let agent = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("herd-agent").path
        let patternFile = path + ".patterns"
        try (patterns.joined(separator: "\n") + "\n").write(
            toFile: patternFile, atomically: true, encoding: .utf8)
        defer { unlink(patternFile) }
        func timed(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
            process.environment = ["LC_ALL": "C"]
            let pipe = Pipe()
            process.standardOutput = pipe
            var output = Data()
            let elapsed = try ContinuousClock().measure {
                try process.run()
                output = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
            }
            return (Self.seconds(elapsed), String(decoding: output, as: UTF8.self))
        }
        var processes: [(String, Double, String)] = []
        if FileManager.default.isExecutableFile(atPath: agent) {
            let run = try timed(agent, ["scan-log", "--json", path])
            let findings = run.output.components(separatedBy: "\"category\"").count - 1
            processes.append(("herd-agent scan-log --json (whole process)", run.seconds, "\(findings) findings"))
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/rg") {
            let run = try timed("/usr/bin/rg", ["-c", "-f", patternFile, path])
            processes.append(
                (
                    "rg -c -f (same signatures, whole process)", run.seconds,
                    "\(run.output.trimmingCharacters(in: .whitespacesAndNewlines)) matching lines"
                ))
        }

        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let mib = size / 1_048_576
        var table = BenchTable(columns: ["scanner", "seconds", "MiB/s", "result"])
        table.add([
            "herd classifier (\(SignatureTable.builtIn.signatures.count) signatures, one pass)",
            Bench.format(Self.seconds(herdElapsed), decimals: 2), Bench.format(mib / Self.seconds(herdElapsed)),
            "\(classifier.lines) lines, \(events) error events in \(tallies.count) signatures",
        ])
        table.add([
            "grep -c -E (same alternation, LC_ALL=C)", Bench.format(Self.seconds(grepElapsed), decimals: 2),
            Bench.format(mib / Self.seconds(grepElapsed)), "\(grepCount) matching lines",
        ])
        for (name, seconds, result) in processes {
            table.add([name, Bench.format(seconds, decimals: 2), Bench.format(mib / seconds), result])
        }
        table.print()
        if processes.count == 2 {
            print(
                "herd-agent scan-log vs rg -c: \(Bench.format(processes[1].1 / processes[0].1, decimals: 2))× rg's speed"
            )
        }
        print("herd CPU \(Bench.format(herdCPU, decimals: 2)) s; peak RSS of herd-bench \(usage.ru_maxrss / 1024) MiB")
    }

    static func seconds(_ duration: Duration) -> Double { Bench.micros(duration) / 1e6 }

    static func escapeERE(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\^$.|?*+()[]{}".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
