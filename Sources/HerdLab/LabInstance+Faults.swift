import Foundation
import HerdTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The playbook's faults on one instance (`LabFault`), and healing them all.
extension LabInstance {
    func inject(_ fault: LabFault) throws {
        switch fault {
        case .sidekiqDead:
            try setUnit(unit(.sidekiq), active: false)
        case .load5xx:
            loadTicks = 0
        case .upstream502, .objectStorage, .post500:
            // Puma drops connections unanswered on every other tick (nginx: "upstream prematurely
            // closed connection"); Mastodon logs storage errors or a NoMethodError (`traffic`).
            break
        case .dbPool:
            guard holders.isEmpty, let bin = PostgresCluster.binDirectory else { break }
            // 34 of the 37 connections Mastodon may use (40 − 3 reserved for superusers): 92 %.
            for _ in 0..<34 {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: bin + "/psql")
                process.arguments = [
                    "-X", "-q", "-h", "127.0.0.1", "-p", String(postgres.port), "-U", "mastodon_\(shortName)", "-d",
                    "mastodon_\(shortName)", "-c", "SELECT pg_sleep(86400)",
                ]
                process.environment = ["PGPASSWORD": "lab-\(shortName)-secret", "PATH": "/usr/bin:/bin"]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                process.standardInput = FileHandle.nullDevice
                try process.run()
                holders.append(process)
            }
        case .diskFull:
            guard getuid() == 0 else { throw LabError("disk-full mounts a 32 MiB tmpfs and needs root") }
            if !tmpfs {
                let (status, output) = try LabProcess.run(
                    "/bin/mount", ["-t", "tmpfs", "-o", "size=32m,mode=0755", "herd-lab-media", media])
                guard status == 0 else { throw LabError("mount: \(output)") }
                tmpfs = true
            }
            guard
                FileManager.default.createFile(
                    atPath: media + "/cache-filler.bin", contents: Data(count: 31 << 20 + 512 << 10))
            else { throw LabError("cannot fill \(media)") }
        case .pgDown:
            try postgres.halt()
        case .redisDown:
            envOverrides["REDIS_URL"] = "redis://127.0.0.1:\(deadRedisPort)/\(index)"
        case .pumaDown:
            try setUnit(unit(.web), active: false)
            for route in Self.pumaRoutes { standIn.setFault(route, .drop) }
        case .pumaSlow:
            for route in Self.pumaRoutes { standIn.setFault(route, .hang) }
        case .streamingDown:
            try setUnit(unit(.streaming), active: false)
            standIn.setFault(Self.streamingHealth, .drop)
        case .oomKill:
            let stamp = Self.kernelStamp(Date())
            let lines = """
                \(stamp) \(shortName) kernel: [ 5400.112233] bundle invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0
                \(stamp) \(shortName) kernel: [ 5400.112301] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/\(unit(.sidekiq)),task=bundle,pid=2841,uid=991
                \(stamp) \(shortName) kernel: [ 5400.112322] Out of memory: Killed process 2841 (bundle) total-vm:2874512kB, anon-rss:1811424kB, file-rss:0kB, shmem-rss:0kB, UID:991 pgtables:4216kB oom_score_adj:0

                """
            try append(lines, to: kernelLog)
        case .sqlAscii:
            let database = "mastodon_\(shortName)_ascii"
            if try postgres.sql("SELECT 1 FROM pg_database WHERE datname = '\(database)'").isEmpty {
                try postgres.sql(
                    "CREATE DATABASE \(database) OWNER mastodon_\(shortName) ENCODING 'SQL_ASCII' TEMPLATE template0")
            }
            envOverrides["DB_NAME"] = database
        case .mediaUnwritable:
            envOverrides["S3_ENABLED"] = "false"
            chmod(media, 0o555)
        case .ffmpegMissing:
            if case .shared = placement {
                throw LabError("ffmpeg-missing breaks the shared host's ffmpeg, for every instance on it")
            }
            // What a dist-upgrade that removed its libraries leaves: an ffmpeg that cannot start.
            try """
            #!/bin/sh
            echo "ffmpeg: error while loading shared libraries: libavdevice.so.59: cannot open shared object file: No such file or directory" >&2
            exit 127

            """.write(toFile: bin + "/ffmpeg", atomically: true, encoding: .utf8)
            chmod(bin + "/ffmpeg", 0o755)
        case .railsPool:
            envOverrides["MAX_THREADS"] = "10"
        case .sidekiqBacklog, .sidekiqStuckJob:
            // Fifty jobs enqueued half an hour ago in push (Sidekiq's payload shape).
            let enqueued = Date().timeIntervalSince1970 - 1800
            let jobs = (0..<50).map { n in
                #"{"class":"PushUpdateWorker","args":[\#(n),"lab"],"retry":0,"queue":"push","jid":"lab\#(n)","created_at":\#(enqueued),"enqueued_at":\#(enqueued)}"#
            }
            _ = try redis?.commandBlocking(["LPUSH", "queue:push"] + jobs, database: index)
        case .retryGrowth, .crashLoop:
            break  // the supervisor's ticks: jobs into the retry set, systemd restarting web
        case .certExpiring:
            // A renewal gone wrong: the certificate served now expires in two days.
            try Self.writeCertificate(certificateAuthority, name: name, daysLeft: 2, to: tlsFile)
        case .agentSilent:
            // A split instance's database host goes quiet; an agent of its own stops.
            guard let agent = agents.first else {
                throw LabError("agent-silent on the shared host silences every instance on it")
            }
            agent.stop()
        }
        faults.insert(fault)
        try writeEnv()
    }

    func heal() {
        faults = []
        envOverrides = [:]
        try? writeEnv()
        for part in [Part.sidekiq, .web, .streaming] { try? setUnit(unit(part), active: true) }
        for route in Self.pumaRoutes + [Self.streamingHealth] { standIn.setFault(route, nil) }
        if !holders.isEmpty {
            // A backend in pg_sleep does not notice its client leave: end the sessions themselves.
            _ = try? postgres.sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'mastodon_\(shortName)'")
        }
        for holder in holders where holder.isRunning { holder.terminate() }
        holders = []
        try? postgres.resume()
        chmod(media, 0o755)
        let tools = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/standins")
        try? FileManager.default.removeItem(atPath: bin + "/ffmpeg")
        try? FileManager.default.copyItem(atPath: tools + "/ffmpeg", toPath: bin + "/ffmpeg")
        _ = try? redis?.commandBlocking(["DEL", "queue:push"], database: index)
        if tmpfs {
            try? FileManager.default.removeItem(atPath: media + "/cache-filler.bin")
            _ = try? LabProcess.run("/bin/umount", [media])
            tmpfs = false
        }
        try? Self.writeCertificate(certificateAuthority, name: name, daysLeft: 90, to: tlsFile)
        if let agentBinary {
            for agent in agents where !agent.isRunning { try? agent.start(binary: agentBinary) }
        }
    }
}
