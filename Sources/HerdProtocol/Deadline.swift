import Synchronization

/// Runs `body` until it returns or `limit` runs out, whichever comes first; nil when time ran out. The
/// body's task is then cancelled (AsyncHTTPClient closes the connection under it) and the caller goes on
/// at once, even when the body does not heed cancellation (a database that stopped answering): it is
/// left to finish on its own. With an HTTP exchange the deadline covers everything: the response's body
/// as well as its head, which a peer that sends headers and then trickles bytes would otherwise stretch
/// for ever.
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    let race = DeadlineRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation)
            let work = Task {
                do {
                    race.finish(.success(try await body()))
                } catch {
                    race.finish(.failure(error))
                }
            }
            let timer = Task {
                try? await Task.sleep(for: limit)
                race.finish(.success(nil))
            }
            race.hold([work, timer])
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The first of the body, the timer and the caller's cancellation to finish resumes the caller, once,
/// and cancels the other tasks.
private final class DeadlineRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T?, any Error>?
        var outcome: Result<T?, any Error>?
        var tasks: [Task<Void, Never>] = []
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T?, any Error>) {
        let early = state.withLock { state -> Result<T?, any Error>? in
            if state.outcome == nil { state.continuation = continuation }
            return state.outcome
        }
        if let early { continuation.resume(with: early) }
    }

    func hold(_ tasks: [Task<Void, Never>]) {
        let done = state.withLock { state in
            state.tasks = tasks
            return state.outcome != nil
        }
        if done { tasks.forEach { $0.cancel() } }
    }

    func finish(_ outcome: Result<T?, any Error>) {
        let (continuation, tasks) = state.withLock {
            state -> (CheckedContinuation<T?, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = outcome
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: outcome)
    }
}
