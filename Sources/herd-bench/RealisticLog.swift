import Foundation
import HerdTestSupport

/// Writes a log shaped like a busy Mastodon host's journal: Rails/lograge requests, Sidekiq 7 and 8
/// (ANSI) job lines, streaming pino JSON, nginx errors and kernel lines, with syslog prefixes on some,
/// and about 3 % errors including multi-line ones (FATAL request blocks, WARN triples, backtraces).
/// Deterministic: the same size gives the same bytes.
enum RealisticLog {
    static let paths = [
        "/api/v1/timelines/home", "/api/v1/notifications", "/api/v1/statuses", "/api/v2/media", "/inbox",
        "/users/alice/inbox", "/api/v1/accounts/verify_credentials", "/health", "/@alice/109876543210",
    ]
    static let workers = [
        "ActivityPub::DeliveryWorker", "LinkCrawlWorker", "PushUpdateWorker", "ActivityPub::ProcessingWorker",
        "Scheduler::AccountsStatusesCleanupScheduler", "FetchReplyWorker",
    ]

    static func write(to path: String, bytes: Int) throws {
        guard let file = fopen(path, "w") else { throw CocoaError(.fileWriteUnknown) }
        defer { fclose(file) }
        var rng = SplitMix64(seed: 42)
        var buffer = ""
        buffer.reserveCapacity(1 << 20)
        var written = 0
        var second = 0
        while written < bytes {
            second += 1
            for _ in 0..<40 {
                appendEvent(&buffer, &rng, second: second)
            }
            if buffer.utf8.count >= 1 << 20 {
                written += buffer.utf8.count
                fputs(buffer, file)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        fputs(buffer, file)
    }

    static func timestamp(_ second: Int, _ rng: inout SplitMix64) -> String {
        let s = second % 86_400
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "2026-11-21T\(pad(s / 3600, 2)):\(pad(s / 60 % 60, 2)):\(pad(s % 60, 2)).\(pad(rng.below(1000), 3))Z"
    }

    static func appendEvent(_ out: inout String, _ rng: inout SplitMix64, second: Int) {
        let ts = timestamp(second, &rng)
        let prefix =
            rng.below(3) == 0 ? "Nov 21 \(ts.dropFirst(11).prefix(8)) masto-17 bundle[\(1000 + rng.below(9000))]: " : ""
        let request = rng.hex(8) + "-" + rng.hex(4)
        let roll = rng.below(1000)
        switch roll {
        case 0..<560:
            let status = [200, 200, 200, 200, 202, 301, 404, 422][rng.below(8)]
            out +=
                "\(prefix)I, [\(ts.dropLast()) #\(27 + rng.below(4))]  INFO -- : [\(request)] method=GET path=\(paths[rng.below(paths.count)]) format=json controller=Api::V1::TimelinesController action=show status=\(status) duration=\(rng.below(900)).\(rng.below(100)) view=\(rng.below(50)).\(rng.below(100)) db=\(rng.below(80)).\(rng.below(100))\n"
        case 560..<790:
            out +=
                "\(prefix)\(ts) pid=\(70000 + rng.below(999)) tid=\(rng.hex(4)) class=\(workers[rng.below(workers.count)]) jid=\(rng.hex(24)) elapsed=\(rng.below(9)).\(rng.below(1000)) INFO: done\n"
        case 790..<880:
            out +=
                "\u{1B}[1;34mINFO \u{1B}[0m \(ts) pid=\(70000 + rng.below(999)) tid=\(rng.hex(4)) class=\(workers[rng.below(workers.count)]) jid=\(rng.hex(24)) elapsed=\(rng.below(9)).\(rng.below(1000)): done\n"
        case 880..<960:
            out +=
                "{\"level\":\"info\",\"time\":\(1_795_284_000 + second),\"pid\":\(4000 + rng.below(99)),\"hostname\":\"masto-17\",\"req\":{\"id\":\"\(request)\"},\"msg\":\"Incoming request\"}\n"
        case 960..<970:
            out += "\(second / 3600 % 24)/11/21 18:00:0\(rng.below(10)) [notice] 812#812: signal process started\n"
        case 970..<976:
            out +=
                "\(prefix)I, [\(ts.dropLast()) #27]  INFO -- : [\(request)] method=POST path=/api/v1/statuses format=html controller=Api::V1::StatusesController action=create status=500 error='ActiveRecord::ConnectionTimeoutError: could not obtain a connection from the pool within 5.000 seconds (waited 5.001 seconds); all pooled connections were in use' allocations=1234 duration=5012.34\n"
            out +=
                "\(prefix)F, [\(ts.dropLast()) #27] FATAL -- : [\(request)] ActiveRecord::ConnectionTimeoutError (could not obtain a connection from the pool within 5.000 seconds):\n"
            out +=
                "\(prefix)F, [\(ts.dropLast()) #27] FATAL -- : [\(request)] app/controllers/api/v1/statuses_controller.rb:61:in `create'\n"
        case 976..<984:
            let tid = rng.hex(4)
            out +=
                "\(ts) pid=71153 tid=\(tid) WARN: {\"context\":\"Job raised exception\",\"job\":{\"class\":\"ActivityPub::DeliveryWorker\",\"jid\":\"\(rng.hex(24))\"}}\n"
            out += "\(ts) pid=71153 tid=\(tid) WARN: HTTP::TimeoutError: Read timed out after 10 seconds\n"
            out +=
                "\(ts) pid=71153 tid=\(tid) WARN: /home/mastodon/live/vendor/bundle/ruby/3.2.0/gems/http-5.1.1/lib/http/timeout/global.rb:100:in `read_nonblock'\n"
        case 984..<988:
            out +=
                "\(prefix)Errno::ENOSPC: No space left on device @ io_write - /home/mastodon/live/public/system/cache/media_attachments/\(rng.hex(12)).png\n"
            out += "    from /home/mastodon/live/app/models/media_attachment.rb:301:in `write'\n"
            out += "    from /home/mastodon/live/app/models/media_attachment.rb:288:in `process'\n"
        case 988..<994:
            out +=
                "2026/11/21 18:00:0\(rng.below(10)) [error] 812#812: *\(rng.below(999_999)) \(rng.below(2) == 0 ? "connect() failed (111: Connection refused) while connecting to upstream" : "upstream timed out (110: Connection timed out) while reading response header from upstream"), client: 203.0.113.\(rng.below(255)), server: social.example.org, request: \"POST /api/v1/statuses HTTP/2.0\", upstream: \"http://127.0.0.1:3000/api/v1/statuses\", host: \"social.example.org\"\n"
        case 994..<997:
            out +=
                "Nov 21 18:00:04 masto-17 kernel: Out of memory: Killed process \(rng.below(99999)) (bundle) total-vm:2345676kB, anon-rss:1234567kB, file-rss:0kB\n"
        default:
            out +=
                "\(prefix)Redis::CannotConnectError: Error connecting to Redis on 127.0.0.1:6379 (Errno::ECONNREFUSED)\n"
        }
    }
}

extension SplitMix64 {
    mutating func hex(_ count: Int) -> String {
        String((0..<count).map { _ in Array("0123456789abcdef")[below(16)] })
    }
}
