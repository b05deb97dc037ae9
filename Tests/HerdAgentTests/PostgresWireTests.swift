import HerdProtocol
import HerdTestSupport
import Testing

@testable import HerdAgent

/// The agent's PostgreSQL client against servers that break the protocol, and its SCRAM arithmetic
/// against RFC 7677's example.
@Suite struct PostgresWireTests {
    static func message(_ type: Character, _ body: [UInt8]) -> [UInt8] {
        let length = UInt32(body.count + 4)
        return [type.asciiValue!] + (0..<4).map { UInt8(truncatingIfNeeded: length >> (24 - 8 * $0)) } + body
    }

    static let ready = message("R", [0, 0, 0, 0]) + message("Z", [UInt8(ascii: "I")])

    /// The check against a server that plays `replies`, one per message the client sends.
    static func check(_ replies: [[UInt8]], sslMode: String = "disable") async throws -> CheckOutcome {
        let server = try ScriptedServer(.conversation(replies))
        defer { server.stop() }
        return try await runServiceCheck(
            PostgresCheck(),
            env: ["DB_HOST": "127.0.0.1", "DB_PORT": String(server.port), "DB_SSLMODE": sslMode, "DB_PASS": "x"]
        ) { $0.serviceTimeout = .seconds(5) }
    }

    @Test func serversThatBreakTheProtocolAreRefused() async throws {
        // A 2 GiB message: refused from its header, before anything is buffered.
        let huge = try await Self.check([[UInt8(ascii: "R"), 0x7F, 0xFF, 0xFF, 0xF0]])
        #expect(huge.findings.map(\.signature) == ["PostgreSQL connection failed"])
        #expect(huge.summary.contains("protocol violation"), "\(huge.summary)")
        // An HTTP server where PostgreSQL should be, and binary garbage.
        let http = try await Self.check([Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)])
        #expect(http.summary.contains("protocol violation"), "\(http.summary)")
        let garbage = try await Self.check([(0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }])
        #expect(garbage.status == .critical, "\(garbage.summary)")
        // "Yes" to TLS followed by plaintext that would be read as if it had come over TLS.
        let injected = try await Self.check([[UInt8(ascii: "S")] + Self.ready], sslMode: "prefer")
        #expect(injected.summary.contains("after agreeing to TLS"), "\(injected.summary)")
        // Methods the agent does not speak.
        let kerberos = try await Self.check([Self.message("R", [0, 0, 0, 2])])
        #expect(kerberos.findings.map(\.signature) == ["PostgreSQL authentication failed"])
        #expect(kerberos.summary.contains("Kerberos"), "\(kerberos.summary)")
        let sasl = try await Self.check([Self.message("R", [0, 0, 0, 10] + Array("SCRAM-SHA-256-PLUS\0\0".utf8))])
        #expect(sasl.summary.contains("unsupported authentication method SASL"), "\(sasl.summary)")
        // Ready, then an answer to the first query that is no answer at all.
        let rogue = try await Self.check([Self.ready, Self.message("W", [0, 0, 0])])
        #expect(rogue.summary.contains("protocol violation: message W"), "\(rogue.summary)")
        // A row that claims more bytes than it holds.
        let short = try await Self.check([Self.ready, Self.message("D", [0, 1, 0, 0, 0, 9, 0x31])])
        #expect(short.summary.contains("protocol violation"), "\(short.summary)")
        // A server that ends SCRAM without proving it knows the password.
        let unproven = try await Self.check([
            Self.message("R", [0, 0, 0, 10] + Array("SCRAM-SHA-256\0\0".utf8)), Self.ready,
        ])
        #expect(unproven.summary.contains("protocol violation"), "\(unproven.summary)")
    }

    /// RFC 7677 §3: user "user", password "pencil".
    @Test func scramMatchesRFC7677() throws {
        var client = SCRAMClient(password: "pencil", user: "user", nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(client.clientFirst == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        let final = try client.clientFinal(serverFirst: serverFirst)
        #expect(
            final
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        )
        try client.verify(serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        #expect(throws: PostgresWireError.self) {
            try client.verify(serverFinal: "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        }
        #expect(throws: PostgresWireError.self) { try client.verify(serverFinal: "e=invalid-proof") }
        for bad in [
            "r=someoneElsesNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // not extended
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
            "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999",
            "r=rOprNGfwEbeRWgbNEkqOx,s=not base64!,i=4096",
        ] {
            #expect(throws: PostgresWireError.self, "\(bad)") { try client.clientFinal(serverFirst: bad) }
        }
    }
}
