import Foundation
import GRDB
import HerdProtocol

/// The controller's history in SQLite (GRDB, WAL, `synchronous = FULL` so a commit is on disk before
/// anyone is told it happened). Schema changes are migrations, one per file, frozen once shipped.
public final class Store: Sendable {
    let pool: DatabasePool
    public let path: String

    /// Opens (creating) the database and applies every migration — or only those up to `migrateUpTo`,
    /// which tests use to build a database as an older controller left it.
    public init(path: String, migrateUpTo: String? = nil) throws {
        self.path = path
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        if let migrateUpTo {
            try Migrations.migrator.migrate(pool, upTo: migrateUpTo)
        } else {
            try Migrations.migrator.migrate(pool)
        }
    }

    /// Identifiers of the migrations applied to this database, oldest first.
    public func appliedMigrations() throws -> [String] {
        try pool.read { db in try Migrations.migrator.appliedIdentifiers(db) }.sorted()
    }

    public func close() throws {
        try pool.close()
    }

    public static func now() -> Double { Date().timeIntervalSince1970 }
}
