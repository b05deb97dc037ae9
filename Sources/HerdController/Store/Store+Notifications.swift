/// The notification queue `NotificationService` works through: what is due, and each delivery's
/// outcome. Rows are queued by `IncidentBook.notify` in the report's transaction. Every change here is
/// the leader's (`writeAsLeader`), and a notification is claimed before it is posted: `claimed_by` names
/// the sending replica and `claimed_until` ends the claim, so that no two senders post it at once and
/// the claim of a sender that died lapses (the retry carries the same `Idempotency-Key`).
extension Store {
    /// How long a claim holds: longer than a delivery can take (`NotificationService`: 5 s to connect,
    /// 15 s for the answer).
    static let notificationClaimSeconds = 60.0

    /// Pending notifications due at `now` and claimed by no one, oldest first; none while an earlier one
    /// of the same incident and sink is still pending (a resolution never overtakes its opening).
    func dueNotifications(at now: Double, limit: Int = 50) async throws -> [NotificationRecord] {
        try await read { db in
            try Store.notifications(
                db,
                where: """
                    state = 'pending' AND due_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)
                    AND NOT EXISTS (
                        SELECT 1 FROM notifications e WHERE e.incident_id = notifications.incident_id
                            AND e.sink = notifications.sink AND e.state = 'pending' AND e.id < notifications.id)
                    """,
                [now, now], limit: limit)
        }
    }

    /// Takes the notification for this replica to post; false when it is no longer pending or another
    /// sender's claim holds.
    func claimNotification(_ id: Int64, at now: Double) async throws -> Bool {
        try await writeAsLeader { [replicaID] db in
            try db.execute(
                sql: """
                    UPDATE notifications SET claimed_by = ?, claimed_until = ?
                    WHERE id = ? AND state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)
                    """, arguments: [replicaID, now + Self.notificationClaimSeconds, id, now]) == 1
        }
    }

    /// When a silence covers the notification's incident now: marks it silenced (with an event on the
    /// incident) and returns the silence; nil when nothing silences it.
    func silenceIfCovered(_ notification: NotificationRecord, at now: Double, engine: PatternEngine) async throws
        -> SilenceRecord?
    {
        try await writeAsLeader { db in
            guard let silence = try Store.silence(covering: notification.incidentID, at: now, in: db) else {
                return nil
            }
            try db.execute(
                sql: "UPDATE notifications SET state = 'silenced' WHERE id = ? AND state = 'pending'",
                arguments: [notification.id])
            try IncidentBook(engine: engine, db: db).event(
                notification.incidentID, now, "silenced",
                "\(notification.transition) not sent to \(notification.sink): silence #\(silence.id) (\(silence.scope.rawValue) \(silence.value), \(silence.reason))"
            )
            return silence
        }
    }

    /// A failed attempt that will be retried at `dueAt` (by whichever replica leads then).
    func retryNotification(_ id: Int64, attempts: Int, dueAt: Double, error: String) async throws {
        try await writeAsLeader { db in
            try db.execute(
                sql: """
                    UPDATE notifications SET attempts = ?, due_at = ?, last_error = ?, claimed_until = NULL
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [attempts, dueAt, String(error.prefix(500)), id])
        }
    }

    func notificationSent(_ id: Int64, at now: Double) async throws {
        try await writeAsLeader { db in
            try db.execute(
                sql: """
                    UPDATE notifications SET state = 'sent', sent_at = ?, attempts = attempts + 1, claimed_until = NULL
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [now, id])
        }
    }

    /// The last attempt: `failed` for good (with why).
    func settleNotification(_ id: Int64, state: String, error: String) async throws {
        try await writeAsLeader { db in
            try db.execute(
                sql: """
                    UPDATE notifications SET state = ?, last_error = ?, attempts = attempts + 1, claimed_until = NULL
                    WHERE id = ? AND state = 'pending'
                    """,
                arguments: [state, String(error.prefix(500)), id])
        }
    }

    /// Queues a `repeated` notification to each receiver that heard of an open critical incident nobody
    /// has acknowledged, once its route's repeat interval has passed since the last notification of it
    /// queued for that receiver (sent, silenced or failed: a silence does not make it repeat faster).
    /// Fleet members are paged through their fleet incident. The number queued.
    @discardableResult
    func queueRepeats(at now: Double, routing: NotificationRouting) async throws -> Int {
        guard routing.repeatInterval > 0 || routing.routes.values.contains(where: { ($0.repeatInterval ?? 0) > 0 })
        else {
            return 0
        }
        return try await writeAsLeader { db in
            let candidates = try SQLRow.fetchAll(
                db,
                sql: """
                    SELECT n.incident_id, n.sink, max(n.created_at), max(n.repetition)
                    FROM notifications n JOIN incidents x ON x.id = n.incident_id
                    WHERE x.state = 'open' AND x.severity = 3 AND x.acknowledged_at IS NULL AND x.parent_id IS NULL
                    GROUP BY n.incident_id, n.sink
                    HAVING sum(CASE WHEN n.state = 'sent' THEN 1 ELSE 0 END) > 0
                        AND sum(CASE WHEN n.state = 'pending' THEN 1 ELSE 0 END) = 0
                    """)
            var facts: [Int64: NotificationRouting.IncidentFacts] = [:]
            var queued = 0
            for row in candidates {
                let incidentID: Int64 = row[0]
                let sink: String = row[1]
                let last: Double = row[2]
                let repetition: Int = row[3]
                if facts[incidentID] == nil { facts[incidentID] = try IncidentBook.facts(of: incidentID, in: db) }
                guard let incident = facts[incidentID],
                    let interval = routing.receivers(for: incident).first(where: { $0.name == sink })?.repeatInterval,
                    interval > 0, now - last >= interval
                else { continue }
                queued += try db.execute(
                    sql: """
                        INSERT INTO notifications (incident_id, transition, repetition, sink, created_at, due_at, state)
                        VALUES (?, 'repeated', ?, ?, ?, ?, 'pending') ON CONFLICT DO NOTHING
                        """, arguments: [incidentID, repetition + 1, sink, now, now])
            }
            return queued
        }
    }
}
