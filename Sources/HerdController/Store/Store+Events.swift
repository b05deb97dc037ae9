import Foundation
import HerdProtocol
import Logging
import NIOPosix
import PostgresNIO

/// A change other parts of the controller — on this replica and on every other one on the same
/// database — should hear of at once. A hint only: the tables are the truth, and whoever hears one
/// reads them.
public enum StoreEvent: Sendable, Equatable {
    /// A command became dispatchable for the agent (approved, or a dry run proposed).
    case commandReady(agentID: String)
    /// Remediation was thawed: every agent may have commands waiting.
    case thawed
    /// The agent's identity changed (revoked): anything remembered about it is stale.
    case agentChanged(agentID: String)
    /// The stream of other replicas' events was (re)established: what happened meanwhile was not heard.
    case resynchronized

    var payload: String {
        switch self {
        case .commandReady(let agentID): "command \(agentID)"
        case .thawed: "thaw"
        case .agentChanged(let agentID): "agent \(agentID)"
        case .resynchronized: "resync"
        }
    }

    init?(payload: String) {
        let parts = payload.split(separator: " ", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("command", 2): self = .commandReady(agentID: parts[1])
        case ("agent", 2): self = .agentChanged(agentID: parts[1])
        case ("thaw", 1): self = .thawed
        default: return nil
        }
    }
}

/// Events reach this replica's subscribers at once, and the other replicas' through PostgreSQL's
/// `NOTIFY herd` (each replica `LISTEN`s on a connection of its own, `followReplicas`). On SQLite there
/// is one process and delivery is local only.
extension Store {
    static let eventChannel = "herd"

    /// `handler` hears every event, from this replica and from the others.
    public func subscribe(_ handler: @escaping @Sendable (StoreEvent) -> Void) {
        eventHandlers.withLock { $0.append(handler) }
    }

    func deliver(_ event: StoreEvent) {
        switch event {
        case .agentChanged(let agentID): agentCache.withLock { $0.remove(agentID: agentID) }
        case .resynchronized: agentCache.withLock { $0 = AgentCache() }
        case .commandReady, .thawed: break
        }
        for handler in eventHandlers.withLock({ $0 }) { handler(event) }
    }

    /// Tells this replica, and the others, that `event` happened (call after the change committed). The
    /// notification to the others is best-effort: a replica that misses it finds the change in the tables
    /// on its next look (an agent's long-poll times out and looks).
    func publish(_ event: StoreEvent) async {
        deliver(event)
        guard case .postgresql(let writer, _) = engine else { return }
        let payload = "\(replicaID) \(event.payload)"
        _ = try? await writer.run(nil) { db in
            try db.execute(sql: "SELECT pg_notify(?, ?)", arguments: [Self.eventChannel, payload])
        }
    }

    /// Hears the other replicas' events until cancelled, on a connection of its own, reconnecting after
    /// a pause when it breaks; each (re)connection delivers `.resynchronized` first. Returns at once on
    /// SQLite.
    public func followReplicas(logger: Logger) async {
        guard let configuration = postgresConfiguration else { return }
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            do {
                let connection = try await PostgresConnection.connect(
                    on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration, id: 1_000 + attempt,
                    logger: Logger(label: "herd.store.events", factory: { _ in SwiftLogNoOpLogHandler() }))
                do {
                    try await connection.listen(on: Self.eventChannel) { notifications in
                        deliver(.resynchronized)
                        for try await notification in notifications {
                            let parts = notification.payload.split(separator: " ", maxSplits: 1).map(String.init)
                            guard parts.count == 2, parts[0] != replicaID, let event = StoreEvent(payload: parts[1])
                            else { continue }
                            deliver(event)
                        }
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "replica events: connection lost; reconnecting",
                    metadata: ["error": "\(PostgresDatabase.mapped(error, sql: "LISTEN"))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
