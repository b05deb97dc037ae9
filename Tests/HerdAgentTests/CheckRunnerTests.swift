import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// Blocks (in a system call, ignoring cancellation) until the test releases it: stuck for as long as
/// the test needs, however slow the machine.
struct HangingCheck: BlockingCheck {
    let id = "test.hang"
    let title = "hangs"
    let playbookStep = "-"
    let release = DispatchSemaphore(value: 0)
    func runBlocking(in context: CheckContext) throws -> CheckOutcome {
        release.wait()
        return CheckOutcome(.ok, "woke up", memory: CheckMemory(numbers: ["x": 1]))
    }
}

struct ThrowingCheck: Check {
    let id = "test.throw"
    let title = "throws"
    let playbookStep = "-"
    func run(in context: CheckContext) async throws -> CheckOutcome {
        throw HostError(.permissionDenied, "/var/log/secret.log: Permission denied")
    }
}

struct CountingCheck: Check {
    let id = "test.count"
    let title = "counts"
    let playbookStep = "-"
    func run(in context: CheckContext) async throws -> CheckOutcome {
        let n = (context.memory.numbers["n"] ?? 0) + 1
        return CheckOutcome(.ok, "line one\nline two\u{7}", metrics: ["n": n], memory: CheckMemory(numbers: ["n": n]))
    }
}

struct InvalidCheck: Check {
    let id = "test.invalid"
    let title = "invalid metrics"
    let playbookStep = "-"
    func run(in context: CheckContext) async throws -> CheckOutcome {
        CheckOutcome(.ok, "fine", metrics: ["Not An Identifier": .nan])
    }
}

@Suite struct CheckRunnerTests {
    static func runner(
        _ checks: [any Check], store: any CheckMemoryStore = EphemeralMemoryStore(), timeout: Duration = .seconds(1)
    )
        -> CheckRunner
    {
        var configuration = AgentConfiguration()
        configuration.checkTimeout = timeout
        return CheckRunner(
            checks: checks, host: .live(configuration), configuration: configuration, store: store,
            signatures: SignatureMatcher(table: .builtIn))
    }

    @Test func aHangingOrThrowingCheckIsUnknownAndNeverStopsTheOthers() async {
        let store = EphemeralMemoryStore()
        let hanging = HangingCheck()
        defer { hanging.release.signal() }
        let runner = Self.runner([hanging, ThrowingCheck(), CountingCheck(), InvalidCheck()], store: store)
        let results = await runner.runCycle()
        #expect(results.map(\.checkID) == ["test.hang", "test.throw", "test.count", "test.invalid"])
        #expect(results[0].status == .unknown)
        #expect(results[0].summary == "did not finish within 1s")
        #expect(results[1].status == .unknown)
        #expect(results[1].summary.contains("Permission denied"))
        #expect(results[2].status == .ok)
        #expect(results[2].summary == "line one line two ")
        #expect(results[3].status == .unknown)
        #expect(results[3].summary.hasPrefix("produced an invalid result"))
        // The hung check's memory was not saved; it is not started again while still stuck.
        #expect(store.load("test.hang").isEmpty)
        let again = await runner.runCycle()
        #expect(again[0].summary.hasPrefix("still running from a cycle"))
        #expect(again[2].metrics["n"] == 2)
    }

    @Test func memoriesSurviveInTheStateDirectory() async throws {
        let dir = try TemporaryDirectory("herd-state")
        defer { dir.remove() }
        _ = await Self.runner([CountingCheck()], store: try DirectoryMemoryStore(stateDirectory: dir.path)).runCycle()
        let result = await Self.runner([CountingCheck()], store: try DirectoryMemoryStore(stateDirectory: dir.path))
            .runCycle()
        #expect(result[0].metrics["n"] == 2)
        var st = stat()
        #expect(stat(dir.file("checks/test.count.json"), &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        // A corrupt file is set aside and the check starts afresh.
        try dir.write("checks/test.count.json", "{not json")
        let fresh = await Self.runner([CountingCheck()], store: try DirectoryMemoryStore(stateDirectory: dir.path))
            .runCycle()
        #expect(fresh[0].metrics["n"] == 1)
        #expect(FileManager.default.fileExists(atPath: dir.file("checks/test.count.json.corrupt")))
    }
}
