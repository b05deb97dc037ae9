/// The notification queue `NotificationService` works through: what is due, and each delivery's
/// outcome. Rows are queued by `IncidentBook.notify` in the report's transaction.
extension Store {
    /// Pending notifications due at `now`, oldest first.
    func dueNotifications(at now: Double, limit: Int = 50) async throws -> [NotificationRecord] {
        try await read { db in
            try Store.notifications(db, where: "state = 'pending' AND due_at <= ?", [now], limit: limit)
        }
    }

    /// When a silence covers the notification's incident now: marks it silenced (with an event on the
    /// incident) and returns the silence; nil when nothing silences it.
    func silenceIfCovered(_ notification: NotificationRecord, at now: Double, engine: PatternEngine) async throws
        -> SilenceRecord?
    {
        try await write { db in
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

    /// A failed attempt that will be retried at `dueAt`.
    func retryNotification(_ id: Int64, attempts: Int, dueAt: Double, error: String) async throws {
        try await write { db in
            try db.execute(
                sql:
                    "UPDATE notifications SET attempts = ?, due_at = ?, last_error = ? WHERE id = ? AND state = 'pending'",
                arguments: [attempts, dueAt, String(error.prefix(500)), id])
        }
    }

    func notificationSent(_ id: Int64, at now: Double) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE notifications SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                arguments: [now, id])
        }
    }

    /// The last attempt: `failed` for good (with why).
    func settleNotification(_ id: Int64, state: String, error: String) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE notifications SET state = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?",
                arguments: [state, String(error.prefix(500)), id])
        }
    }
}
