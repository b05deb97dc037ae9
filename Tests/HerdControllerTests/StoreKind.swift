import Foundation
import HerdTestSupport
import Synchronization
import Testing

@testable import HerdController

/// The two stores every store, pattern, incident, remediation and audit test runs against: SQLite in a
/// temp file, and a database of its own on one real PostgreSQL cluster (initdb/pg_ctl on loopback) shared
/// by the test process and stopped when it exits.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgresql

    var testDescription: String { rawValue }

    /// A new, empty store of this kind; SQLite's file lives in `directory`.
    func makeStore(in directory: TemporaryDirectory) throws -> Store {
        switch self {
        case .sqlite: try Store(path: directory.file("herd.sqlite"))
        case .postgresql: try Store(location: try TestPostgres.newDatabase())
        }
    }
}

enum TestPostgres {
    private static let counter = Atomic<Int>(0)

    /// Started on first use. Connections: a store holds three, and tests run in parallel.
    static let cluster: Result<PostgresCluster, any Error> = Result {
        let cluster = try PostgresCluster(settings: ["max_connections = 400", "shared_buffers = 64MB"])
        atexit { try? TestPostgres.cluster.get().stop() }
        return cluster
    }

    /// The URL of a new database, owned by the superuser, for one test's store.
    static func newDatabase() throws -> String {
        let cluster = try cluster.get()
        let name = "herd_\(getpid())_\(counter.add(1, ordering: .relaxed).newValue)"
        try cluster.sql("CREATE DATABASE \(name) TEMPLATE template0")
        return "postgresql://postgres:postgres-secret@127.0.0.1:\(cluster.port)/\(name)?sslmode=disable"
    }
}
