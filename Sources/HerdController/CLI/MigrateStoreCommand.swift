import ArgumentParser
import Foundation
import HerdProtocol

/// `herd-controller migrate-store`: copies the SQLite store into an empty PostgreSQL database, every
/// row in one transaction, the audit chain verified there before it commits.
struct MigrateStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate-store",
        abstract: "Copy the SQLite store (DATA_DIR/herd.sqlite) into an empty PostgreSQL database.",
        discussion: """
            Stop the controller first: the copy reads the SQLite file in pages and must see it unchanged. \
            The copy is one PostgreSQL transaction (all of it or nothing); the audit chain is verified \
            on PostgreSQL before it commits and the copy is its next entry. Then set `store = URL` in \
            controller.conf and start the controller (Controller/README.md, "PostgreSQL and replicas").
            """)

    @Option(help: "The controller's data directory.")
    var dataDir: String

    @Option(help: "The PostgreSQL store: postgresql://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=verify-full…")
    var to: String

    @Option(help: "The SQLite file to copy (default: DATA_DIR/herd.sqlite).")
    var from: String?

    func run() async throws {
        let settings: PostgresStoreSettings
        do {
            settings = try PostgresStoreSettings(url: to)
        } catch {
            throw ValidationError("--to: \(error)")
        }
        let file = from ?? ControllerConfiguration(dataDirectory: dataDir).databaseFile
        guard FileManager.default.fileExists(atPath: file) else {
            throw ValidationError("no SQLite store at \(file.escapingControlCharacters)")
        }
        let source = try Store(path: file)
        defer { try? source.close() }
        let target = try Store(postgres: settings)
        defer { try? target.close() }
        let started = ContinuousClock.now
        let copy = try await source.copy(into: target)
        for (table, count) in copy.rows { print("\(table): \(count)") }
        print("copied \(file.escapingControlCharacters) to \(settings) in \(ContinuousClock.now - started)")
        print("audit chain verified; head \(copy.auditHead)")
    }
}
