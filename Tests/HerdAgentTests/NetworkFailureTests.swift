import NIOCore
import Testing

@testable import HerdAgent

#if canImport(Glibc)
    import Glibc
#endif

/// One classification of transport failures for every client: the same error is the same kind, in
/// the same words, whether Redis, PostgreSQL or HTTP met it.
@Suite struct NetworkFailureTests {
    static let cases: [(any Error, NetworkFailure.Kind, String)] = [
        (IOError(errnoCode: ECONNREFUSED, reason: "connect"), .refused, "connection refused"),
        (IOError(errnoCode: ENOENT, reason: "connect"), .socketMissing, "socket does not exist"),
        (IOError(errnoCode: EACCES, reason: "connect"), .permissionDenied, "permission denied on the socket"),
        (IOError(errnoCode: ETIMEDOUT, reason: "connect"), .timeout, "connection timed out"),
        (IOError(errnoCode: EHOSTUNREACH, reason: "connect"), .connection, "host unreachable"),
        (ChannelError.connectTimeout(.seconds(2)), .timeout, "connect timed out"),
    ]

    @Test func everyClientSortsATransportFailureAlike() throws {
        let redis = try RedisEndpoint.parse(url: "redis://127.0.0.1:6379/0")
        let postgres = try PostgresSettings.parse(url: "postgres://mastodon@127.0.0.1:5432/mastodon")
        for (error, kind, words) in Self.cases {
            let failure = try #require(NetworkFailure.classify(error))
            #expect(failure.kind == kind && failure.detail == words)
            let asRedis = RedisConnection.classify(error, redis)
            let asPostgres = PostgresCheck.classify(error, postgres)
            let asHTTP = HTTPFetcher.classify(error)
            #expect(asRedis.kind.rawValue == kind.rawValue && asRedis.description.hasSuffix(words))
            #expect(
                asPostgres.kind.rawValue == (kind == .connection ? "failed" : kind.rawValue)
                    && asPostgres.description.hasSuffix(words))
            #expect(asHTTP.kind.rawValue == kind.rawValue && asHTTP.description == words)
        }
        // A protocol's own error is its client's to sort, not a transport failure.
        #expect(NetworkFailure.classify(RESPProtocolError("bad")) == nil)
    }
}
