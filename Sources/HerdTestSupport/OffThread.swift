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
