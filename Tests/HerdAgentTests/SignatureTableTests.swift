import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

@Suite struct SignatureTableTests {
    static let matcher = SignatureMatcher(table: .builtIn)

    static func category(_ line: String) -> String? {
        matcher.firstMatch(in: Array(line.utf8)).map { matcher.table.signatures[$0].category.rawValue }
    }

    /// Real shapes from shared/MASTODON.md, one per source, and the category each must get.
    @Test(arguments: [
        (
            "I, [2025-04-22T03:10:54.777617 #27]  INFO -- : [b3c1] method=POST path=/api/v1/statuses format=html controller=Api::V1::StatusesController action=create status=500 error='ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use' allocations=1234 duration=5012.34",
            "db_pool_exhausted"
        ),
        ("PG::ConnectionBad: FATAL:  sorry, too many clients already", "db_connection_limit"),
        (
            "PG::ConnectionBad: could not connect to server: Connection refused Is the server running on host \"127.0.0.1\" and accepting TCP/IP connections on port 5432?",
            "db_connection"
        ),
        (
            "2023-11-22T11:04:05.379Z pid=71153 tid=12zx WARN: Redis::CannotConnectError: Error connecting to Redis on 127.0.0.1:6379 (Errno::ECONNREFUSED)",
            "redis_down"
        ),
        ("ERR! Redis Client Error! Error: connect ECONNREFUSED 127.0.0.1:6379", "redis_down"),
        (
            "\u{1B}[1;34mINFO \u{1B}[0m 2026-01-12T00:14:00.750Z pid=12 tid=abc class=LinkCrawlWorker elapsed=8.7: fail: Read timed out (HTTP::TimeoutError)",
            "federation_remote_failure"
        ),
        (
            "Errno::ENOSPC: No space left on device @ io_write - /home/mastodon/live/public/system/cache/x.png",
            "disk_full"
        ),
        ("PG::DiskFull: ERROR:  could not extend file \"base/16384/2619\": No space left on device", "disk_full"),
        (
            "Errno::EACCES: Permission denied @ dir_s_mkdir - /home/mastodon/live/public/system/media_attachments",
            "permission_denied"
        ),
        (
            "Paperclip::Errors::CommandNotFoundError: Could not run the `ffmpeg` command. Please install ffmpeg.",
            "media_processing"
        ),
        (
            "E, [2026-11-21T18:00:00.100000 #27] ERROR -- : [b3c2] Storage server error: Aws::S3::Errors::ServiceUnavailable (Please reduce your request rate.)",
            "object_storage"
        ),
        (
            "Paperclip::Error: Seahorse::Client::NetworkingError: Failed to open TCP connection to s3.example.net:443",
            "object_storage"
        ),
        (
            "2026/11/21 18:00:01 [error] 812#812: *4411 connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.9, server: social.example.org, request: \"POST /api/v1/statuses HTTP/2.0\", upstream: \"http://127.0.0.1:3000/api/v1/statuses\", host: \"social.example.org\"",
            "upstream_unreachable"
        ),
        (
            "2026/11/21 18:00:02 [error] 812#812: *4412 upstream timed out (110: Connection timed out) while reading response header from upstream, client: 203.0.113.9",
            "upstream_timeout"
        ),
        (
            "2026/11/21 18:00:03 [error] 812#812: *4413 upstream prematurely closed connection while reading response header from upstream",
            "upstream_unreachable"
        ),
        (
            "Nov 21 18:00:04 masto kernel: Out of memory: Killed process 1234 (bundle) total-vm:2345676kB, anon-rss:1234567kB",
            "oom_kill"
        ),
        (
            "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),task_memcg=/system.slice/mastodon-sidekiq.service,task=bundle,pid=1234",
            "oom_kill"
        ),
        ("mastodon-sidekiq.service: Failed with result 'oom-kill'.", "oom_kill"),
        (
            "PG::CharacterNotInRepertoire: ERROR:  invalid byte sequence for encoding \"UTF8\": 0xe9 0x20 0x6c",
            "encoding_error"
        ),
        ("Encoding::UndefinedConversionError: \"\\xE9\" from ASCII-8BIT to UTF-8", "encoding_error"),
        ("OpenSSL::SSL::SSLError: SSL_connect returned=1 errno=0 state=error: certificate verify failed", "tls_error"),
        ("Your Redis network connection is performing extremely poorly.", "sidekiq_backlog_or_retry"),
    ])
    func classifiesRealShapes(line: String, expected: String) {
        #expect(Self.category(line) == expected, "\(line)")
    }

    @Test(arguments: [
        "I, [2025-04-22T03:10:54.777617 #27]  INFO -- : [b3c1] method=GET path=/health status=200 duration=1.2",
        "2026/11/21 18:00:05 [notice] 812#812: signal process started",
        "",
        "\u{0}\u{1}\u{2}\u{FF}",
    ])
    func leavesHealthyLinesAlone(line: String) {
        #expect(Self.category(line) == nil)
    }

    @Test func fragmentsMustOccurInOrder() throws {
        let table = try SignatureTable.parse("db_connection\trefused on 5432\tConnection refused*5432\n", source: "t")
        let matcher = SignatureMatcher(table: table)
        #expect(matcher.firstMatch(in: Array("x Connection refused y 5432".utf8)) == 0)
        #expect(matcher.firstMatch(in: Array("x 5432 y Connection refused".utf8)) == nil)
        #expect(matcher.firstMatch(in: Array("Connection refused5432".utf8)) == 0)
    }

    @Test func firstSignatureInTableOrderWins() throws {
        let table = try SignatureTable.parse(
            "other\tspecific\tdisk full on /var\nother\tgeneral\tdisk full\n", source: "t")
        let matcher = SignatureMatcher(table: table)
        #expect(matcher.firstMatch(in: Array("error: disk full on /var/log".utf8)) == 0)
        #expect(matcher.firstMatch(in: Array("error: disk full on /home".utf8)) == 1)
        let reversed = SignatureMatcher(
            table: try SignatureTable.parse(
                "other\tgeneral\tdisk full\nother\tspecific\tdisk full on /var\n", source: "t"))
        #expect(reversed.firstMatch(in: Array("error: disk full on /var/log".utf8)) == 0)
    }

    @Test func escapesAndSharedFragments() throws {
        let table = try SignatureTable.parse(
            "other\tstar\tliteral \\* star\nother\tbackslash\tC:\\\\path\nother\tshared\tliteral\n", source: "t")
        let matcher = SignatureMatcher(table: table)
        #expect(table.signatures[0].fragments == [Array("literal * star".utf8)])
        #expect(matcher.firstMatch(in: Array("a literal * star".utf8)) == 0)
        #expect(matcher.firstMatch(in: Array("a literal x star".utf8)) == 2)
        #expect(matcher.firstMatch(in: Array("C:\\path".utf8)) == 1)
    }

    /// The matcher (gram prefilter, then automaton, then fragment order) against the definition: the
    /// first signature in table order whose fragments occur in order without overlapping. Lines are
    /// random mixes of fragments, pieces of fragments cut where a gram could straddle, and noise.
    @Test(arguments: [
        SignatureTable.builtInText,
        // Fragments shorter than a gram: no prefilter, the automaton sees every line.
        "other\ttiny\tab*c\nother\tmixed\tPG::*xy\nother\tlong\tConnection refused*5432\n",
        // Fragments of exactly a gram, and grams that a line may hold near its end.
        "other\tfour\tPG::*xy\nother\tlong\tConnection refused*5432\n",
    ])
    func agreesWithTheDefinitionOnRandomLines(text: String) throws {
        let table = try SignatureTable.parse(text, source: "t")
        let matcher = SignatureMatcher(table: table)
        let fragments = table.signatures.flatMap(\.fragments)
        var random = SplitMix64(seed: 0x5EED)
        for _ in 0..<3000 {
            var line: [UInt8] = []
            for _ in 0..<Int(random.next() % 6) {
                let fragment = fragments[Int(random.next() % UInt64(fragments.count))]
                switch random.next() % 3 {
                case 0: line += fragment
                case 1: line += fragment.prefix(Int(random.next() % UInt64(fragment.count)))
                default: line += fragment.suffix(Int(random.next() % UInt64(fragment.count)))
                }
                line += (0..<Int(random.next() % 8)).map { _ in UInt8(32 + random.next() % 95) }
            }
            let expected = table.signatures.indices.first { Self.occursInOrder(table.signatures[$0].fragments, line) }
            #expect(matcher.firstMatch(in: line) == expected, "\(String(decoding: line, as: UTF8.self))")
        }
    }

    static func occursInOrder(_ fragments: [[UInt8]], _ line: [UInt8]) -> Bool {
        var from = 0
        for fragment in fragments {
            guard
                let at = (from..<max(from, line.count - fragment.count + 1)).first(where: {
                    line[$0..<($0 + fragment.count)].elementsEqual(fragment)
                })
            else { return false }
            from = at + fragment.count
        }
        return true
    }

    @Test(arguments: [
        ("db_connection\tonly two columns", "t:1: expected CATEGORY<TAB>SIGNATURE<TAB>PATTERN, found 2 column(s)"),
        ("# comment\n\nDB Connection\tname\tpattern", "t:3: finding.category: must match [a-z0-9][a-z0-9._-]*"),
        ("other\tname\t***", "t:1: pattern has no literal text"),
        ("other\tname\tends with \\", "t:1: pattern ends in a lone backslash"),
        ("other\tname\tbad \\n escape", "t:1: only \\* and \\\\ are escapes"),
        ("other\t\tpattern", "t:1: finding.signature: must not be empty"),
        ("other\tname\t" + String(repeating: "x", count: 257), "t:1: a pattern fragment is longer than 256 bytes"),
        ("other\tname\tpattern\textra", "t:1: expected CATEGORY<TAB>SIGNATURE<TAB>PATTERN, found 4 column(s)"),
    ])
    func badTablesNameTheLine(text: String, expected: String) {
        do {
            _ = try SignatureTable.parse(text, source: "t")
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.description == expected)
        }
    }

    @Test func builtInTableUsesOnlyKnownCategories() {
        #expect(SignatureTable.builtIn.signatures.count > 40)
        for signature in SignatureTable.builtIn.signatures {
            #expect(FindingCategory.known.contains(signature.category), "\(signature.name)")
        }
        let names = SignatureTable.builtIn.signatures.map(\.name)
        #expect(Set(names).count == names.count, "signature names must be unique")
    }

    @Test func operatorTablesExtendTheBuiltInOne() throws {
        let extra = try SignatureTable.parse(
            "federation_remote_failure\tRemote 410\treturned code 410\n", source: "ops")
        let matcher = SignatureMatcher(table: SignatureTable.builtIn.appending(extra))
        let index = try #require(matcher.firstMatch(in: Array("Request for https://x returned code 410".utf8)))
        #expect(matcher.table.signatures[index].name == "Remote 410")
    }
}
