import Foundation
import HerdProtocol

/// Where this store stands in the election among replicas on one PostgreSQL database.
struct Leadership: Sendable {
    /// Whether this store takes part (`campaign` was called): a store that does not is its database's
    /// only writer (SQLite always; a PostgreSQL store used by a tool or a test) and leads implicitly.
    var campaigning = false
    /// The fencing token this store leads with, or nil while another replica leads.
    var epoch: Int64?
    /// The elector's connection the advisory lock was taken on.
    var connection = 0
}

/// Work a replica tried as leader after another had taken the lead: nothing of it was written.
public struct NotLeader: Error, CustomStringConvertible, Sendable {
    public var epoch: Int64?
    public var current: Int64?
    public var description: String {
        guard let epoch else { return "this replica does not lead" }
        return
            "this replica led with epoch \(epoch), the database has \(current.map(String.init) ?? "none"): it no longer leads"
    }
}

/// The leader among replicas: work that must happen once per fleet — the silent-agent sweep, retention,
/// notification delivery — runs on the replica holding a PostgreSQL session-level advisory lock on a
/// connection of its own (`elector`). Taking the lock increments `leadership.epoch`, the fencing token:
/// each leader-only transaction first reads the epoch `FOR SHARE` and writes nothing unless it is still
/// the one this replica took the lead with. A replica that lost its connection (and so the lock) without
/// noticing yet, or paused while another took over, therefore cannot write as leader; and the new
/// leader's increment waits for any such transaction still in flight.
extension Store {
    /// `pg_try_advisory_lock` key of the leader ("herdlead" in ASCII).
    static let leaderLock: Int64 = 0x6865_7264_6C65_6164

    /// Whether this store may do leader-only work now (a store that does not campaign always may).
    public var isLeader: Bool {
        self.leadership.withLock { !$0.campaigning || $0.epoch != nil }
    }

    /// The fencing token this store leads with: nil while it does not lead, 0 for a store that does not
    /// campaign.
    public var leaderEpoch: Int64? {
        self.leadership.withLock { $0.campaigning ? $0.epoch : 0 }
    }

    /// Makes this store a candidate before its first round: until it wins one, it does no leader-only
    /// work (`serve` calls this before its services start).
    public func enterElection() {
        self.leadership.withLock { $0.campaigning = true }
    }

    /// One round of the election, every few seconds: a leader confirms its connection (and with it the
    /// lock) is alive; any other replica tries to take the lock. Returns the epoch this store leads
    /// with, or nil. On SQLite the store is the only writer: it leads, with epoch 0.
    @discardableResult
    public func campaign(holder: String, now: Double = now()) async throws -> Int64? {
        guard let elector else {
            self.leadership.withLock {
                $0.campaigning = true; $0.epoch = 0
            }
            return 0
        }
        enterElection()
        return try await elector.run(nil) { db in
            let held = self.leadership.withLock { $0 }
            if let epoch = held.epoch {
                if held.connection == elector.connectionNumber, (try? db.execute(sql: "SELECT 1")) != nil {
                    return epoch
                }
                // The connection broke: PostgreSQL released the lock with it, and another replica may
                // lead already. This round only steps down; the next one reconnects and tries again.
                self.leadership.withLock { $0.epoch = nil }
                return nil
            }
            guard try Int64.fetchOne(db, sql: "SELECT pg_try_advisory_lock(?)", arguments: [Self.leaderLock]) == 1
            else { return nil }
            let epoch = try Int64.fetchOne(
                db, sql: "UPDATE leadership SET epoch = epoch + 1, holder = ?, since = ? WHERE id = 1 RETURNING epoch",
                arguments: [holder, now])
            self.leadership.withLock {
                $0.epoch = epoch
                $0.connection = elector.connectionNumber
            }
            return epoch
        }
    }

    /// Gives up the lead (graceful shutdown): another replica takes it on its next round, not after its
    /// connection times out.
    public func resign() async {
        let led = self.leadership.withLock { state -> Bool in
            defer { state.epoch = nil }
            return state.epoch != nil
        }
        guard led, let elector else { return }
        _ = try? await elector.run(nil) { db in try db.execute(sql: "SELECT pg_advisory_unlock_all()") }
    }

    /// Who leads, as the database says: the holder's name, its epoch and since when.
    public func leader() async throws -> (holder: String, epoch: Int64, since: Double)? {
        try await read { db in
            guard let row = try SQLRow.fetchOne(db, sql: "SELECT holder, epoch, since FROM leadership WHERE id = 1"),
                (row[1] as Int64) > 0
            else { return nil }
            return (row[0], row[1], row[2])
        }
    }

    /// Runs `body` in one write transaction if, and only if, this store still leads when the transaction
    /// reads the fencing token; otherwise throws `NotLeader` and writes nothing.
    @discardableResult
    func writeAsLeader<T: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) throws -> T) async throws -> T {
        let state = self.leadership.withLock { $0 }
        guard state.campaigning, elector != nil else { return try await write(body) }
        guard let epoch = state.epoch else { throw NotLeader() }
        return try await write { db in
            let current = try Int64.fetchOne(
                db, sql: "SELECT epoch FROM leadership WHERE id = 1 \(db.dialect.lockingRead)")
            guard current == epoch else {
                self.leadership.withLock { if $0.epoch == epoch { $0.epoch = nil } }
                throw NotLeader(epoch: epoch, current: current)
            }
            return try body(db)
        }
    }
}
