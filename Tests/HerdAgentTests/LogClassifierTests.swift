import HerdAgent
import HerdProtocol
import Testing

@Suite struct LogClassifierTests {
    static func classify(_ text: String) -> (tallies: [LogClassifier.Tally], events: Int) {
        var classifier = LogClassifier()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            classifier.feed(Array(line.utf8), number: index + 1)
        }
        let tallies = classifier.finish()
        return (tallies, classifier.events)
    }

    @Test func railsRequestWithItsFatalLinesIsOneEvent() throws {
        let log = """
            I, [2025-04-22T03:10:54.777617 #27]  INFO -- : [b3c1d2] method=POST path=/api/v1/statuses format=html controller=Api::V1::StatusesController action=create status=500 error='ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use' allocations=1234 duration=5012.34 view=0.00 db=0.00
            F, [2025-04-22T03:10:54.778000 #27] FATAL -- : [b3c1d2] ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use):
            F, [2025-04-22T03:10:54.778001 #27] FATAL -- : [b3c1d2] app/controllers/api/v1/statuses_controller.rb:61:in `create'
            I, [2025-04-22T03:10:55.100000 #27]  INFO -- : [e4f5a6] method=GET path=/health format=html status=200 duration=0.51
            """
        let (tallies, events) = Self.classify(log)
        #expect(events == 2)
        let tally = try #require(tallies.first)
        #expect(tallies.count == 1)
        #expect(tally.category == .dbPoolExhausted)
        #expect(tally.signature == "ActiveRecord::ConnectionTimeoutError")
        #expect(tally.count == 1)
        #expect(tally.firstLine == 1)
        #expect(tally.sample.hasPrefix("I, [2025-04-22T03:10:54.777617 #27]"))
    }

    @Test func sidekiqSevenWarnTripleIsOneEvent() {
        let log = """
            2023-11-22T11:04:05.379Z pid=71153 tid=12zx WARN: {"context":"Job raised exception","job":{"class":"ActivityPub::DeliveryWorker","jid":"abc"}}
            2023-11-22T11:04:05.380Z pid=71153 tid=12zx WARN: HTTP::TimeoutError: Read timed out after 10 seconds
            2023-11-22T11:04:05.380Z pid=71153 tid=12zx WARN: /home/mastodon/live/vendor/bundle/ruby/3.2.0/gems/http-5.1.1/lib/http/timeout/global.rb:100:in `read_nonblock'
            2023-11-22T11:04:06.001Z pid=71153 tid=9aq1 INFO: done
            2023-11-22T11:04:07.379Z pid=71153 tid=44ab WARN: {"context":"Job raised exception","job":{"class":"ActivityPub::DeliveryWorker","jid":"def"}}
            2023-11-22T11:04:07.380Z pid=71153 tid=44ab WARN: HTTP::TimeoutError: Read timed out after 10 seconds
            """
        let (tallies, events) = Self.classify(log)
        #expect(events == 3)
        #expect(tallies.map(\.category) == [.federationRemoteFailure])
        #expect(tallies.first?.count == 2)
        #expect(tallies.first?.firstLine == 1)
        #expect(tallies.first?.lastLine == 5)
    }

    @Test func sidekiqEightColouredFailuresAtInfoCount() {
        let log = [
            "\u{1B}[1;34mINFO \u{1B}[0m 2026-01-12T00:14:00.750Z pid=12 tid=a1 class=LinkCrawlWorker jid=1 elapsed=8.7: fail: Read timed out (HTTP::TimeoutError)",
            "\u{1B}[1;34mINFO \u{1B}[0m 2026-01-12T00:14:01.750Z pid=12 tid=a2 class=PushWorker jid=2 elapsed=0.1: done",
            "\u{1B}[1;34mINFO \u{1B}[0m 2026-01-12T00:14:02.750Z pid=12 tid=a3 class=LinkCrawlWorker jid=3 elapsed=9.1: fail: Read timed out (HTTP::TimeoutError)",
        ].joined(separator: "\n")
        let (tallies, events) = Self.classify(log)
        #expect(events == 3)
        #expect(tallies.first?.count == 2)
        #expect(tallies.first?.sample.contains("\u{1B}") == false)
    }

    @Test func rubyBacktraceLinesBelongToTheirException() {
        let log = """
            Errno::ENOSPC: No space left on device @ io_write - /home/mastodon/live/public/system/cache/preview.png
                from /home/mastodon/live/app/models/media_attachment.rb:301:in `write'
                from /home/mastodon/live/app/models/media_attachment.rb:288:in `process'
            /home/mastodon/live/lib/paperclip/storage.rb:44:in `flush_writes'
            Errno::ENOSPC: No space left on device @ io_write - /home/mastodon/live/public/system/cache/other.png
            """
        let (tallies, events) = Self.classify(log)
        #expect(events == 2)
        #expect(tallies.map(\.count) == [2])
        #expect(tallies.first?.category == .diskFull)
    }

    @Test func journaldAndDockerPrefixesAreTolerated() {
        let log = """
            Nov 21 18:00:04 masto-17 bundle[27]: Redis::CannotConnectError: Error connecting to Redis on 127.0.0.1:6379 (Errno::ECONNREFUSED)
            Nov 21 18:00:04 masto-17 bundle[27]:   from /home/mastodon/live/vendor/bundle/redis.rb:10:in `connect'
            web_1        | Redis::CannotConnectError: Error connecting to Redis on redis:6379 (Errno::ECONNREFUSED)
            web_1        |     from /opt/mastodon/vendor/bundle/redis.rb:10:in `connect'
            """
        let (tallies, events) = Self.classify(log)
        #expect(events == 2)
        #expect(tallies.first?.category == .redisDown)
        #expect(tallies.first?.count == 2)
        #expect(tallies.first?.sample.hasPrefix("Redis::CannotConnectError") == true)
    }

    @Test func binaryGarbageAndHugeLinesAreHarmless() {
        var classifier = LogClassifier()
        classifier.feed([0x00, 0xFF, 0xFE, 0x1B, 0x5B, 0x1B], number: 1)
        var huge = [UInt8](repeating: UInt8(ascii: "x"), count: 10 << 20)
        huge.replaceSubrange(5_000_000..<5_000_000 + 13, with: Array("Errno::ENOSPC".utf8))
        classifier.feed(huge, number: 2)
        classifier.feed(Array("\u{1B}[".utf8), number: 3)
        let tallies = classifier.finish()
        #expect(tallies.count == 1)
        #expect(tallies.first?.category == .diskFull)
        #expect((tallies.first?.sample.utf8.count ?? 0) <= 512)
        #expect(classifier.lines == 3)
    }

    @Test(arguments: [
        (
            "PG::ConnectionBad: FATAL: password authentication failed for user \"mastodon\" password=hunter2 x",
            "hunter2"
        ),
        ("redis://:s3cr3tpass@127.0.0.1:6379/0 unreachable", "s3cr3tpass"),
        ("postgres://mastodon:pa55w0rd@db:5432/mastodon_production", "pa55w0rd"),
        ("Authorization: Bearer abcdef123456 rejected", "abcdef123456"),
        ("{\"access_token\":\"tok_9f8e7d\",\"scope\":\"read\"}", "tok_9f8e7d"),
        ("S3_SECRET_ACCESS_KEY=AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ])
    func samplesNeverCarrySecrets(line: String, secret: String) {
        let sample = Redactor.sample(Array(line.utf8)[...])
        #expect(!sample.contains(secret), "\(sample)")
        #expect(sample.contains(Redactor.mask))
    }

    @Test func samplesAreOneBoundedLine() {
        let sample = Redactor.sample(Array(("é" + String(repeating: "ab\tc\r\n", count: 400)).utf8)[...])
        #expect(sample.utf8.count <= 512)
        #expect(!sample.contains("\n") && !sample.contains("\t"))
        let cut = Redactor.sample(Array(String(repeating: "€", count: 300).utf8)[...])
        #expect(cut.utf8.count <= 512 && cut.allSatisfy { $0 == "€" })
    }
}
