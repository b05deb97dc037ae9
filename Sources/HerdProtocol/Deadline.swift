/// Runs `body` until it returns or `limit` runs out, whichever comes first; nil when time ran out. The
/// body's task is then cancelled (AsyncHTTPClient closes the connection under it). With an HTTP
/// exchange the deadline covers everything: the response's body as well as its head, which a peer
/// that sends headers and then trickles bytes would otherwise stretch for ever.
public func withDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
