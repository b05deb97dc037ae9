import Foundation

/// Runs blocking work (starting a server, waiting for a child process) on a thread of its own, so an
/// async test does not hold one of the few cooperative threads every other test shares.
public func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}

/// Polls `condition` every 250 ms until it holds; throws when it has not within `seconds`.
public func waitFor(seconds: Int = 30, _ condition: () async throws -> Bool) async throws {
    for _ in 0..<(seconds * 4) {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(250))
    }
    throw FixtureError("condition not met within \(seconds) s")
}
