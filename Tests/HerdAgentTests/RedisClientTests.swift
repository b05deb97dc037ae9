import Foundation
import HerdAgent
import HerdTestSupport
import NIOSSL
import Testing

/// The RESP2 client against a real redis-server, and against servers that lie.
@Suite(.serialized) struct RedisClientTests {
    static func tcp(_ server: RedisServer, password: String? = nil, username: String? = nil, database: Int = 0)
        -> RedisEndpoint
    {
        RedisEndpoint(
            address: .tcp(host: "127.0.0.1", port: server.port), username: username, password: password,
            database: database)
    }

    @Test func commandsRepliesAndPipelining() async throws {
        let server = try await RedisServer.start()
        defer { server.stop() }
        let redis = try await RedisConnection.connect(to: Self.tcp(server))
        #expect(try await redis.send(["PING"]) == .simple("PONG"))
        #expect(try await redis.send(["SET", "key with spaces", "välue\r\n$3\r\nxyz"]) == .simple("OK"))
        #expect(try await redis.send(["GET", "key with spaces"]).string == "välue\r\n$3\r\nxyz")
        #expect(try await redis.send(["GET", "missing"]) == .bulk(nil))
        #expect(try await redis.send(["INCRBY", "counter", "41"]) == .integer(41))
        #expect(try await redis.send(["RPUSH", "list", "a", "b", ""]) == .integer(3))
        #expect(try await redis.send(["LRANGE", "list", "0", "-1"]) == .array([.bulk([97]), .bulk([98]), .bulk([])]))
        // A thousand commands in one write, replies in order.
        let replies = try await redis.pipeline((0..<1000).map { _ in ["INCR", "n"] })
        #expect(replies.map { $0.integer } == (1...1000).map { Int64($0) })
        // An error reply: thrown for one command, returned in a pipeline; the connection survives.
        await #expect(throws: RedisError.self) { try await redis.send(["LLEN", "counter"]) }
        let mixed = try await redis.pipeline([["LLEN", "counter"], ["PING"]])
        guard case .error(let message) = mixed[0] else { Issue.record("expected an error reply"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(mixed[1] == .simple("PONG"))
        await redis.close()
    }

    @Test func authenticationAclUsersDatabasesAndUnixSockets() async throws {
        let server = try await RedisServer.start(password: "s3cret", users: ["sidekiq on >worker-pass ~* +@all"])
        defer { server.stop() }
        try await server.command(["SET", "where", "db3"], database: 3)

        let byPassword = try await RedisConnection.connect(to: Self.tcp(server, password: "s3cret", database: 3))
        #expect(try await byPassword.send(["GET", "where"]).string == "db3")
        await byPassword.close()

        let byUser = try await RedisConnection.connect(
            to: Self.tcp(server, password: "worker-pass", username: "sidekiq", database: 3))
        #expect(try await byUser.send(["GET", "where"]).string == "db3")
        await byUser.close()

        let socket = try await RedisConnection.connect(
            to: RedisEndpoint(address: .unix(path: server.socketPath), password: "s3cret", database: 3))
        #expect(try await socket.send(["GET", "where"]).string == "db3")
        await socket.close()

        for endpoint in [Self.tcp(server, password: "wrong"), Self.tcp(server, password: "nope", username: "sidekiq")] {
            do {
                _ = try await RedisConnection.connect(to: endpoint)
                Issue.record("logged in with a wrong password")
            } catch {
                #expect(error.kind == .authFailed)
                #expect(!error.description.contains("wrong") && !error.description.contains("nope"))
            }
        }
        // No password at all: the first command meets NOAUTH.
        let anonymous = try await RedisConnection.connect(to: Self.tcp(server))
        do {
            _ = try await anonymous.send(["GET", "where"])
            Issue.record("read without authenticating")
        } catch {
            #expect(error.kind == .authFailed)
        }
        await anonymous.close()
    }

    /// `rediss://` against redis-server's own TLS port: the host name verified against a pinned CA, and
    /// a server the client cannot trust refused as a TLS failure, never silently accepted.
    @Test func tlsToARealRedis() async throws {
        let certificates = try TemporaryDirectory("herd-redis-tls")
        defer { certificates.remove() }
        let files = try TestCertificateAuthority().writeServer(
            names: ["localhost"], daysLeft: 30, into: certificates)
        let server = try await offThread {
            try RedisServer(password: "tls-secret", tls: (files.certificate, files.key, files.ca))
        }
        defer { server.stop() }
        try await server.command(["SET", "over", "tls"])
        let endpoint = try RedisEndpoint.parse(url: "rediss://:tls-secret@localhost:\(server.tlsPort!)/0")
        #expect(endpoint.tls)

        var trusting = TLSConfiguration.makeClientConfiguration()
        trusting.trustRoots = .file(files.ca)
        let redis = try await RedisConnection.connect(to: endpoint, tlsConfiguration: trusting)
        #expect(try await redis.send(["GET", "over"]).string == "tls")
        await redis.close()

        // The system's roots do not know this CA.
        await #expect { try await RedisConnection.connect(to: endpoint, timeout: .seconds(3)) } throws: {
            ($0 as? RedisError)?.kind == .tls
        }
        // The right CA but the wrong name: host-name verification is on.
        let wrongName = try RedisEndpoint.parse(url: "rediss://:tls-secret@127.0.0.1:\(server.tlsPort!)/0")
        await #expect {
            var configuration = trusting
            configuration.certificateVerification = .fullVerification
            let connection = try await RedisConnection.connect(to: wrongName, tlsConfiguration: configuration)
            _ = try await connection.send(["PING"])
        } throws: {
            ($0 as? RedisError)?.kind == .tls
        }
        // A plain client on the TLS port gets no RESP: a protocol or connection error, within the deadline.
        let started = ContinuousClock.now
        await #expect {
            let plain = try await RedisConnection.connect(
                to: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: server.tlsPort!), password: "tls-secret"),
                timeout: .milliseconds(500))
            _ = try await plain.send(["PING"])
        } throws: { $0 is RedisError }
        #expect(started.duration(to: .now) < .seconds(5))
    }

    @Test func unreachableRedisIsClassified() async throws {
        let port = try FreePort.next()
        await #expect {
            try await RedisConnection.connect(to: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: port)))
        } throws: {
            ($0 as? RedisError)?.kind == .refused
        }
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("herd-no-such-\(port).sock").path
        await #expect { try await RedisConnection.connect(to: RedisEndpoint(address: .unix(path: missing))) } throws: {
            ($0 as? RedisError)?.kind == .socketMissing
        }
        // A server that accepts and never answers: the reply deadline, not a hang.
        let silent = try SilentListener()
        defer { silent.close() }
        let started = ContinuousClock.now
        let redis = try await RedisConnection.connect(
            to: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: silent.port)), timeout: .milliseconds(300))
        await #expect { try await redis.send(["PING"]) } throws: { ($0 as? RedisError)?.kind == .timeout }
        #expect(started.duration(to: .now) < .seconds(5))
        // After a timeout the connection is closed: later commands fail at once.
        await #expect { try await redis.send(["PING"]) } throws: { $0 is RedisError }
    }

    /// Replies that break RESP2 or its limits close the connection with a protocol error.
    @Test(arguments: [
        ("$5\r\nab\r\n", RedisError.Kind.connection),  // bulk shorter than its length, then the peer closes
        // (the close may surface as "connection closed" or as bytes left undecoded: either way, refused)
        ("$99999999999\r\n", .protocolError),  // bulk length beyond the limit
        ("*999999999\r\n", .protocolError),  // array count beyond the limit
        ("$3\r\nabcXY", .protocolError),  // bulk not followed by CRLF
        ("+OK\n", .protocolError),  // LF without CR
        ("!3\r\nabc\r\n", .protocolError),  // unknown type byte
        (":12x\r\n", .protocolError),  // not a number
        ("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", .protocolError),  // nested too deep
        ("+OK\r\n+EXTRA\r\n", .protocolError),  // a reply nobody asked for
    ])
    func malformedRepliesAreRefused(reply: String, kind: RedisError.Kind) async throws {
        let server = try ScriptedServer(.replyAndClose(Array(reply.utf8)))
        defer { server.stop() }
        let redis = try await RedisConnection.connect(
            to: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: server.port)), timeout: .seconds(2))
        do {
            let first = try await redis.send(["PING"])
            // "+OK\r\n+EXTRA": the first reply is fine, the unasked-for one breaks the connection.
            #expect(first == .simple("OK"))
            try await Task.sleep(for: .milliseconds(100))
            _ = try await redis.send(["PING"])
            Issue.record("accepted \(reply.debugDescription)")
        } catch {
            let accepted: Set<RedisError.Kind> = kind == .connection ? [.connection, .protocolError] : [kind]
            #expect(
                (error as? RedisError).map { accepted.contains($0.kind) } == true, "\(reply.debugDescription): \(error)"
            )
        }
        await redis.close()
    }

    @Test func aNeverEndingReplyIsCutAtTheLimit() async throws {
        // A status line that never ends, and a bulk string that keeps coming: both stop at the limits.
        for chunk in ["+" + String(repeating: "x", count: 4096), "$1048576\r\n" + String(repeating: "y", count: 4096)] {
            let server = try ScriptedServer(.endless(Array(chunk.utf8)))
            defer { server.stop() }
            var limits = RESPLimits()
            limits.maxReplyBytes = 256 << 10
            let redis = try await RedisConnection.connect(
                to: RedisEndpoint(address: .tcp(host: "127.0.0.1", port: server.port)), timeout: .seconds(5),
                limits: limits)
            await #expect { try await redis.send(["PING"]) } throws: {
                [.protocolError, .connection, .timeout].contains(($0 as? RedisError)?.kind)
            }
            await redis.close()
        }
    }

    @Test(arguments: [
        ("redis://localhost", "redis://localhost:6379/0", false),
        ("redis://:pa%40ss@10.0.0.5:6380/2", "redis://(password)@10.0.0.5:6380/2", true),
        ("rediss://worker:pw@redis.example.net:6390", "rediss://worker@redis.example.net:6390/0", true),
        ("unix:///var/run/redis/redis-server.sock?db=1", "unix:///var/run/redis/redis-server.sock?db=1", false),
        ("redis://[::1]:6379/4", "redis://::1:6379/4", false),
    ])
    func urlsParseAndNeverShowPasswords(url: String, described: String, hasPassword: Bool) throws {
        let endpoint = try RedisEndpoint.parse(url: url)
        #expect(endpoint.description == described)
        #expect((endpoint.password != nil) == hasPassword)
        if url.contains("pa%40ss") { #expect(endpoint.password == "pa@ss") }
    }

    @Test(arguments: ["http://x", "redis://host:99999", "redis://host/abc", "unix://relative.sock", "redis://:%zz@h"])
    func badURLsAreConfigurationErrors(url: String) {
        #expect { try RedisEndpoint.parse(url: url) } throws: { ($0 as? RedisError)?.kind == .configuration }
    }

    @Test func sidekiqRedisIsFoundAsMastodonFindsIt() throws {
        let env = [
            "REDIS_URL": "redis://base:6379/0", "SIDEKIQ_REDIS_HOST": "sidekiq-redis", "SIDEKIQ_REDIS_PORT": "6400",
            "SIDEKIQ_REDIS_PASSWORD": "pw", "REDIS_NAMESPACE": "masto",
        ]
        let endpoint = try RedisEndpoint.sidekiq(from: env)
        #expect(endpoint.address == .tcp(host: "sidekiq-redis", port: 6400))
        #expect(endpoint.password == "pw" && endpoint.namespace == "masto")
        #expect(try RedisEndpoint.sidekiq(from: ["REDIS_URL": "redis://base:6379/3"]).database == 3)
        #expect(
            try RedisEndpoint.sidekiq(from: ["REDIS_HOST": "r", "REDIS_DB": "2"]).address == .tcp(host: "r", port: 6379)
        )
        #expect(try RedisEndpoint.sidekiq(from: [:]).address == .tcp(host: "localhost", port: 6379))
        #expect(throws: RedisError.self) { try RedisEndpoint.sidekiq(from: ["REDIS_PORT": "seventy"]) }
    }
}
