import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Logging
import Synchronization
import Testing

/// The agent's client against controllers (or middleboxes) that answer and then stall: every exchange
/// ends within its deadline, the body included.
@Suite struct ControllerClientTests {
    static func client(_ port: Int, timeout: Duration) throws -> ControllerClient {
        // Plain HTTP to a scripted peer: the deadline is the client's, whatever the transport.
        try ControllerClient(
            controller: "http://127.0.0.1:\(port)", caCertificatePEM: try TestCertificateAuthority().certificatePEM,
            identity: nil, timeout: timeout)
    }

    @Test func aTrickledBodyEndsAtTheDeadline() async throws {
        let server = try ScriptedServer(
            .trickle(
                head: Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n".utf8),
                body: Array(repeating: UInt8(ascii: " "), count: 400), every: .milliseconds(500)))
        defer { server.stop() }
        let client = try Self.client(server.port, timeout: .seconds(2))
        let started = ContinuousClock.now
        await #expect(throws: TransportError.self) {
            _ = try await client.commands(wait: .seconds(0))
        }
        let elapsed = ContinuousClock.now - started
        await client.shutdown()
        // 400 bytes at 2/s would take 200 s; the deadline is 2 s. The bound only tells the two apart:
        // two cores running 250 tests at once have stretched this 2 s to 19 s.
        #expect(elapsed < .seconds(60), "\(elapsed)")
    }

    @Test func aStalledHeadEndsAtTheDeadline() async throws {
        let server = try ScriptedServer(.reply([]))
        defer { server.stop() }
        let client = try Self.client(server.port, timeout: .seconds(1))
        do {
            _ = try await client.commands(wait: .seconds(0))
            Issue.record("a silent peer answered")
        } catch {
            #expect("\(error)".contains("unreachable"), "\(error)")
        }
        await client.shutdown()
    }

    @Test func theDeadlineHelperCancelsWhatOutlivesIt() async throws {
        let quick = try await withDeadline(.seconds(5)) { 42 }
        #expect(quick == 42)
        let slow = try await withDeadline(.milliseconds(100)) {
            try await Task.sleep(for: .seconds(60))
            return 1
        }
        #expect(slow == nil)
    }

    /// A body that never looks at cancellation (a store that stopped answering) does not hold the
    /// caller past the deadline: the caller goes on while the body still waits. The body waits on a gate
    /// the test opens only afterwards (or a minute later, so a wrong implementation fails, not hangs).
    @Test func theDeadlineDoesNotWaitForABodyThatIgnoresCancellation() async throws {
        final class Gate: Sendable {
            private let state = Mutex<(opened: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))
            let finished = Atomic<Bool>(false)

            func wait() async {
                await withCheckedContinuation { continuation in
                    let now = state.withLock { state -> Bool in
                        if state.opened { return true }
                        state.waiter = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }

            func open() {
                let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                    state.opened = true
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
        let gate = Gate()
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { gate.open() }
        let answer = try await withDeadline(.milliseconds(100)) {
            await gate.wait()
            gate.finished.store(true, ordering: .relaxed)
            return 1
        }
        let bodyFinished = gate.finished.load(ordering: .relaxed)
        gate.open()
        #expect(answer == nil)
        #expect(!bodyFinished, "withDeadline waited for the body")
    }
}

/// After an outage, a new report is delivered at once: it does not wait out a backoff that may have
/// grown to minutes.
@Suite struct DeliveryBackoffTests {
    @Test func aNewReportCutsTheBackoffShort() async throws {
        let server = try ScriptedServer(
            .replyAndClose(
                Array("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)))
        defer { server.stop() }
        let state = try TemporaryDirectory("herd-backoff")
        defer { state.remove() }
        let outbox = try Outbox(stateDirectory: state.path)
        _ = try outbox.append { OutboxTests.report($0, $1) }
        let client = try ControllerClientTests.client(server.port, timeout: .seconds(5))
        let delivery = Delivery(
            outbox: outbox, client: client, signer: MessageSigner(privateKey: .init()),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            backoff: { _ in .seconds(120) })  // a backoff that has grown long
        let task = Task { try await delivery.run() }
        defer { task.cancel() }
        try await waitFor { server.connections >= 1 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(server.connections == 1)  // waiting out the backoff
        _ = try outbox.append { OutboxTests.report($0, $1) }
        delivery.notify()  // a new report: try now
        try await waitFor { server.connections >= 2 }
        #expect(server.connections == 2)
        await client.shutdown()
    }

    func waitFor(_ condition: () -> Bool) async throws {
        for _ in 0..<80 where !condition() { try await Task.sleep(for: .milliseconds(125)) }
        #expect(condition(), "not within 10 s")
    }
}
