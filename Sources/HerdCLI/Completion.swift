import Foundation
import HerdProtocol

/// Shell completion of what only the controller knows — instance names, incident ids — asked at
/// completion time with the operator's own identity (`--config`'s default), within 3 seconds; nothing
/// when the controller cannot answer, so a shell never hangs on a tab.
enum Completion {
    static func instances() -> [String] {
        ask { client in
            try await client.call(.GET, "/v1/fleet", as: OperatorAPI.Fleet.self).instances.map(\.instance)
        }
    }

    static func incidents() -> [String] {
        ask { client in
            try await client.call(.GET, "/v1/incidents?state=open&limit=200", as: OperatorAPI.Incidents.self)
                .incidents.map { String($0.id) }
        }
    }

    /// Runs `body` on a new thread with its own wait, since completion callbacks are synchronous.
    private static func ask(_ body: @escaping @Sendable (OperatorClient) async throws -> [String]) -> [String] {
        let result = Box()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            let answer = try? await withDeadline(.seconds(3)) {
                try await withClient(try ConnectionOptions.parse([])) { try await body($0) }
            }
            result.set((answer ?? nil) ?? [])
            done.signal()
        }
        _ = done.wait(timeout: .now() + 4)
        return result.get()
    }

    private final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var value: [String] = []
        func set(_ value: [String]) { lock.withLock { self.value = value } }
        func get() -> [String] { lock.withLock { value } }
    }
}
