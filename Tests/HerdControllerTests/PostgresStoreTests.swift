import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdController

/// The PostgreSQL store's connection: the `store =` URL read strictly, TLS as `sslmode` says against a
/// real PostgreSQL with TLS on, an unreachable server or a wrong password as a typed error that never
/// echoes the password, and a PostgreSQL restart survived by reconnecting.
@Suite struct PostgresStoreTests {
    @Test func theURLIsReadStrictlyAndItsPasswordNeverEchoed() throws {
        let settings = try PostgresStoreSettings(
            url: "postgresql://herd:s3cret-pw@db.example:6432/fleet?sslmode=verify-full&connect_timeout=3")
        #expect(settings.host == "db.example" && settings.port == 6432 && settings.database == "fleet")
        #expect(settings.user == "herd" && settings.password == "s3cret-pw" && settings.sslMode == .verifyFull)
        #expect(settings.connectTimeoutSeconds == 3)
        #expect(settings.description == "postgresql://herd:***@db.example:6432/fleet?sslmode=verify-full")
        // libpq's defaults: user herd-less URLs take `herd`, the database the user's name, sslmode prefer.
        let defaults = try PostgresStoreSettings(url: "postgres://db.example")
        #expect(defaults.user == "herd" && defaults.database == "herd" && defaults.sslMode == .prefer)
        #expect(defaults.port == 5432)
        // `require` with a root certificate verifies the chain, as libpq does.
        #expect(
            try PostgresStoreSettings(url: "postgresql://h/d?sslmode=require&sslrootcert=/ca.pem").sslMode == .verifyCA)
        let socket = try PostgresStoreSettings(url: "postgresql://herd@/herd?host=/run/postgresql")
        #expect(socket.unixSocketDirectory == "/run/postgresql")

        for (url, why) in [
            ("mysql://h/d", "not a postgresql:// URL"),
            ("postgresql://h/d?sslmode=maybe", "sslmode must be one of"),
            ("postgresql://h/d?ssl=true", "unknown parameter ssl"),
            ("postgresql://h/d?connect_timeout=0", "connect_timeout must be 1 to 300"),
            ("postgresql://h/d?host=relative", "host= must be a socket directory"),
            ("postgresql://h/a/b", "the database name holds a '/'"),
            ("postgresql:///d", "no host"),
            ("postgresql://u:p%00w@h/d", "the password holds a NUL byte"),
            ("postgresql://h/d?sslmode=verify-ca", "sslmode=verify-ca needs sslrootcert="),
        ] {
            let error = #expect(throws: PostgresStoreSettings.InvalidURL.self, "\(url)") {
                try PostgresStoreSettings(url: url).connectionConfiguration()
            }
            #expect(error?.description.contains(why) == true, "\(url): \(String(describing: error))")
        }
    }

    @Test func placeholdersAreNumberedOutsideQuotes() {
        #expect(
            PostgresDatabase.placeholders("SELECT ?, '?', \"a?\", ?3, ? -- ?") == "SELECT $1, '?', \"a?\", $3, $4 -- $5"
        )
        #expect(PostgresDatabase.placeholders("UPDATE t SET a = ?2 WHERE b = ?1") == "UPDATE t SET a = $2 WHERE b = $1")
    }

    @Test func anUnreachableServerOrAWrongPasswordIsATypedErrorWithoutThePassword() throws {
        let port = try FreePort.next()
        let unreachable = #expect(throws: SQLError.self) {
            try Store(
                location: "postgresql://herd:hunter2-secret@127.0.0.1:\(port)/herd?sslmode=disable&connect_timeout=2")
        }
        #expect(unreachable?.kind == .connection)
        #expect(unreachable.map { !"\($0)".contains("hunter2-secret") } == true)

        let cluster = try TestPostgres.cluster.get()
        let wrong = #expect(throws: SQLError.self) {
            try Store(
                location: "postgresql://postgres:hunter2-secret@127.0.0.1:\(cluster.port)/postgres?sslmode=disable")
        }
        #expect(
            wrong.map { "\($0)".contains("password authentication failed") && !"\($0)".contains("hunter2") } == true)
    }

    /// One cluster with TLS on (a self-signed certificate for `localhost`), restarted in the middle.
    @Test func tlsAsSSLModeSaysAndARestartIsSurvived() async throws {
        let cluster = try PostgresCluster(tls: true)
        defer { cluster.stop() }
        try cluster.sql("CREATE DATABASE herd")
        let certificate = cluster.directory.file("server.crt")
        func url(_ host: String, _ parameters: String) -> String {
            "postgresql://postgres:postgres-secret@\(host):\(cluster.port)/herd?\(parameters)"
        }
        // Encrypted and verified: the chain against sslrootcert, and the name too.
        let verified = try Store(location: url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(certificate)"))
        try verified.close()
        let named = try Store(location: url("localhost", "sslmode=verify-full&sslrootcert=\(certificate)"))
        try named.close()
        // A server whose certificate does not chain to sslrootcert, or names another host: refused.
        let otherCA = try TemporaryDirectory("herd-pg-ca")
        defer { otherCA.remove() }
        try otherCA.write("ca.pem", try TestCertificateAuthority().certificatePEM)
        for refused in [
            url("127.0.0.1", "sslmode=verify-ca&sslrootcert=\(otherCA.file("ca.pem"))"),
            url("127.0.0.1", "sslmode=verify-full&sslrootcert=\(certificate)"),
        ] {
            let error = #expect(throws: SQLError.self, "\(refused)") { try Store(location: refused) }
            #expect(error?.kind == .connection)
        }
        // The shared cluster has no TLS: `require` refuses it; `prefer` goes on in the clear.
        let plain = try TestPostgres.cluster.get()
        #expect(throws: SQLError.self) {
            try Store(
                location: "postgresql://postgres:postgres-secret@127.0.0.1:\(plain.port)/postgres?sslmode=require")
        }
        try Store(location: "postgresql://postgres:postgres-secret@127.0.0.1:\(plain.port)/postgres?sslmode=prefer")
            .close()

        // PostgreSQL restarts: the transaction in its way fails as a connection error, the next reconnects.
        let store = try Store(location: url("127.0.0.1", "sslmode=require"))
        defer { try? store.close() }
        try await ReplicaTests.mark(store, "before")
        try cluster.halt()
        let down = await #expect(throws: SQLError.self) { try await ReplicaTests.mark(store, "down") }
        #expect(down?.kind == .connection)
        await #expect(throws: SQLError.self) { try await ReplicaTests.marks(store) }
        try cluster.resume()
        try await ReplicaTests.mark(store, "after")
        #expect(try await ReplicaTests.marks(store) == ["mark-after", "mark-before"])
    }
}
