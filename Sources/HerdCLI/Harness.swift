import Foundation
import NIOConcurrencyHelpers

/// herdctl run in process, for its tests: the controller's answers come from `answer` instead of the
/// network, what herdctl prints (its error line included) is collected, and "now" is fixed. The
/// shipped binary never sets it: herdctl then talks to its controller over mutual TLS and prints to
/// its standard output and error.
public struct HerdctlHarness: Sendable {
    /// The controller's answer to one request: its status and body.
    public typealias Answer = @Sendable (_ method: String, _ path: String, _ body: [UInt8]?) -> (Int, [UInt8])

    let answer: Answer
    let now: Date
    let output = NIOLockedValueBox("")

    @TaskLocal static var current: HerdctlHarness?

    /// Runs `herdctl ARGUMENTS` with this harness: its exit status and everything it printed.
    public static func run(_ arguments: [String], now: Date, answer: @escaping Answer) async -> (
        status: Int32, output: String
    ) {
        let harness = HerdctlHarness(answer: answer, now: now)
        let status = await $current.withValue(harness) { await Herdctl.mainWithExitCodes(arguments) }
        return (status, harness.output.withLockedValue { $0 })
    }

    /// The time herdctl takes as now: the harness's, or the clock's.
    static var date: Date { current?.now ?? Date() }
}

/// What herdctl prints: to standard output, or the harness's transcript. Every verb prints through it.
func emit(_ text: String = "", terminator: String = "\n") {
    if let harness = HerdctlHarness.current {
        harness.output.withLockedValue { $0 += text + terminator }
    } else {
        Swift.print(text, terminator: terminator)
    }
}

/// A line for standard error, or the harness's transcript.
func printError(_ text: String) {
    if let harness = HerdctlHarness.current {
        harness.output.withLockedValue { $0 += text + "\n" }
    } else {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
