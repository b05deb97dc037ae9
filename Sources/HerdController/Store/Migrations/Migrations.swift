import Crypto
import Foundation
import GRDB
import HerdProtocol

/// One schema change. Each lives in its own file and is frozen once shipped.
protocol Migration: Sendable {
    static var identifier: String { get }
    static var sql: String { get }
    /// What SQL alone cannot do, run after `sql` in the same transaction (e.g. hashing rows).
    static func migrate(_ db: Database) throws
    /// The same change on PostgreSQL, statement by statement. Nil for 0001–0007, which
    /// `PostgresSchema.baseline` stands for; every later migration has both.
    static var postgresql: [String]? { get }
}

extension Migration {
    static func migrate(_ db: Database) throws {}
    static var postgresql: [String]? { nil }
}

/// Every migration, oldest first. GRDB records the applied identifiers in `grdb_migrations`, so each
/// runs once per database, in a transaction of its own.
public enum Migrations {
    static let all: [any Migration.Type] = [
        M0001Initial.self,
        M0002InstanceState.self,
        M0003Incidents.self,
        M0004Remediation.self,
        M0005IncidentChecks.self,
        M0006LostReports.self,
        M0007CompactHistory.self,
        M0008Replicas.self,
        M0009HistoryPartitions.self,
        M0010Paging.self,
        M0011PackedHistory.self,
        M0012AgentRoles.self,
    ]

    /// Each migration's identifier and the SHA-256 of its SQL, oldest first: a test holds shipped ones
    /// to the values they shipped with.
    public static var fingerprints: [(identifier: String, sha256: String)] {
        all.map { migration in
            (
                migration.identifier,
                Hex.lowercase(SHA256.hash(data: Array(migration.sql.utf8)))
            )
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in all {
            migrator.registerMigration(migration.identifier) { db in
                try db.execute(sql: migration.sql)
                try migration.migrate(db)
            }
        }
        return migrator
    }
}
