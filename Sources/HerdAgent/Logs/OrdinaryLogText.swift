/// What a healthy Mastodon host logs most of the time, one line of each everyday shape (journald's
/// prefix, Rails' lograge requests, Sidekiq 6.5–8 jobs, the streaming server's pino JSON, nginx's
/// combined access log, the kernel), written from the formats in shared/MASTODON.md. The gram filter
/// counts the byte pairs of this text to tell which pairs are everywhere (`on`, `: `, `::` in
/// controller names) and so make poor grams: a gram holding one is looked at on nearly every line.
/// It holds no signature's text.
enum OrdinaryLogText {
    static let sample = """
        Mar 02 10:15:01 mastodon bundle[1234]: I, [2026-03-02T10:15:01.123456 #1234]  INFO -- : [5f2c9e1a-3b7d-4c2a-9e8f-1a2b3c4d5e6f] method=GET path=/api/v1/timelines/home format=json controller=Api::V1::Timelines::HomeController action=show status=200 duration=45.21 view=12.00 db=20.11
        I, [2026-03-02T10:15:02.214365 #1236]  INFO -- : [8d7e6f5a-4b3c-2d1e-0f9a-8b7c6d5e4f3a] method=POST path=/api/v1/statuses format=json controller=Api::V1::StatusesController action=create status=200 duration=312.40 view=30.12 db=88.90
        I, [2026-03-02T10:15:02.532411 #1236]  INFO -- : [0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d] method=POST path=/users/alice/inbox format=*/* controller=ActivityPub::InboxesController action=create status=202 duration=18.03 view=0.00 db=3.12
        I, [2026-03-02T10:15:03.001122 #1234]  INFO -- : [1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e] method=GET path=/api/v1/notifications format=json controller=Api::V1::NotificationsController action=index status=200 duration=61.77 view=25.40 db=22.08
        I, [2026-03-02T10:15:03.440918 #1237]  INFO -- : [9f8e7d6c-5b4a-4938-2716-0504f3e2d1c0] method=GET path=/.well-known/webfinger format=json controller=WellKnown::WebfingerController action=show status=200 duration=9.81 view=1.02 db=2.44
        I, [2026-03-02T10:15:04.118272 #1235]  INFO -- : [2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f] method=POST path=/api/v2/media format=json controller=Api::V2::MediaController action=create status=202 duration=140.32 view=2.11 db=9.70
        I, [2026-03-02T10:15:04.902733 #1234]  INFO -- : [3d4e5f6a-7b8c-4d9e-0f1a-2b3c4d5e6f7a] method=GET path=/@bob/112233445566778899 format=html controller=StatusesController action=show status=301 duration=7.20 view=0.00 db=1.05
        Mar 02 10:15:05 mastodon bundle[2345]: 2026-03-02T10:15:05.123Z pid=2345 tid=2ab4 class=ActivityPub::DeliveryWorker jid=0a1b2c3d4e5f60718293a4b5 INFO: start
        2026-03-02T10:15:05.354Z pid=2345 tid=2ab4 class=ActivityPub::DeliveryWorker jid=0a1b2c3d4e5f60718293a4b5 elapsed=0.231 INFO: done
        2026-03-02T10:15:05.772Z pid=2345 tid=3bc5 class=PushUpdateWorker jid=1b2c3d4e5f6071829304a5b6 elapsed=0.014 INFO: done
        2026-03-02T10:15:05.801Z pid=2345 tid=3bc6 class=ActivityPub::ProcessingWorker jid=4e5f6071829304152637d8e9 elapsed=0.102 INFO: done
        DEPRECATION WARNING: Passing the block is deprecated (called from block in <class:Status> at /home/mastodon/live/app/models/status.rb:62)
        INFO  2026-03-02T10:15:06.001Z pid=2345 tid=4cd6 class=LinkCrawlWorker jid=2c3d4e5f607182930415b6c7 elapsed=1.204: done
        INFO  2026-03-02T10:15:06.250Z pid=2345 tid=5de7 class=Scheduler::AccountsStatusesCleanupScheduler jid=3d4e5f6071829304152637d8: start
        Mar 02 10:15:07 mastodon node[812]: {"level":"info","time":1772446507000,"pid":812,"hostname":"mastodon","name":"streaming","req":{"id":"7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b","method":"GET","url":"/api/v1/streaming?stream=user"},"msg":"Incoming request"}
        {"level":"info","time":1772446507020,"pid":812,"hostname":"mastodon","name":"streaming","msg":"Subscribed to timeline:1234 and timeline:access_token:5678"}
        203.0.113.7 - - [02/Mar/2026:10:15:08 +0000] "GET /api/v1/timelines/home?limit=20 HTTP/1.1" 200 51234 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
        198.51.100.23 - - [02/Mar/2026:10:15:08 +0000] "POST /inbox HTTP/1.1" 202 5 "-" "http.rb/5.1.1 (Mastodon/4.3.2; +https://social.example/)"
        192.0.2.44 - - [02/Mar/2026:10:15:09 +0000] "GET /system/media_attachments/files/112/233/445/small/0a1b2c3d4e5f6a7b.png HTTP/2.0" 200 84211 "https://social.example/home" "Mastodon/4.3.2 (iPhone; iOS 17.4)"
        Mar 02 10:15:10 mastodon kernel: [12345.678901] EXT4-fs (sda1): re-mounted. Opts: errors=remount-ro. Quota mode: none.
        Mar 02 10:15:10 mastodon systemd[1]: Started mastodon-sidekiq.service - mastodon-sidekiq.
        """
}
