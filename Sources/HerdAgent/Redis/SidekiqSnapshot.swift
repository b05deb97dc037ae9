import HerdProtocol

/// What Sidekiq keeps in Redis, read with Sidekiq's own keys (the same in 6.5, 7.x and 8.x):
/// `queues` (set), `queue:NAME` (list, oldest job at the right), `retry`/`schedule`/`dead` (sorted
/// sets), `processes` (set) and one hash per process with `info` (JSON), `busy`, `beat`, `quiet`, and
/// its `IDENTITY:work` hash: one JSON entry per busy thread with `queue`, `run_at` and the job.
public struct SidekiqSnapshot: Sendable, Hashable {
    public struct Queue: Sendable, Hashable {
        public var name: String
        public var size: Int
        /// When the oldest job was enqueued, epoch seconds (nil: empty, or no `enqueued_at`).
        public var oldestEnqueuedAt: Double?
    }

    public struct Process: Sendable, Hashable {
        public var identity: String
        public var hostname: String?
        public var pid: Int?
        public var tag: String?
        public var version: String?
        public var concurrency: Int
        public var busy: Int
        /// Last heartbeat, epoch seconds; nil when the hash has expired (the process is gone).
        public var beat: Double?
        public var quiet: Bool
        public var queues: [String]
        /// The job this process has been running longest (from its `work` hash); nil when idle or unread.
        public var oldestJob: BusyJob?
    }

    public struct BusyJob: Sendable, Hashable {
        /// When the thread started the job, epoch seconds.
        public var runAt: Double
        /// The worker class (`ActivityPub::DeliveryWorker`; an ActiveJob's wrapped class).
        public var className: String?
        public var queue: String?
    }

    public var queues: [Queue] = []
    public var retry = 0
    public var schedule = 0
    public var dead = 0
    public var processes: [Process] = []
    /// Queues or processes beyond what the agent reads in one cycle.
    public var truncated = false
    /// Time for the first round trip to Redis, in milliseconds.
    public var roundTripMilliseconds = 0.0
    /// Why the busy jobs could not be read, when they could not (the rest of the snapshot stands).
    public var busyJobsUnread: String?

    public static let maxQueues = 64
    public static let maxProcesses = 256
    /// Processes whose busy jobs are read in one cycle: each entry carries the whole job (an
    /// ActivityPub delivery holds its activity), so a large cluster is sampled, not read whole.
    public static let maxWorkHashes = 32

    /// Reads the snapshot in two pipelined round trips.
    public static func read(from redis: RedisConnection, clock: ContinuousClock = ContinuousClock())
        async throws(RedisError) -> SidekiqSnapshot
    {
        let prefix = redis.endpoint.namespace.map { "\($0):" } ?? ""
        var snapshot = SidekiqSnapshot()
        let started = clock.now
        let first = try await redis.pipeline([
            ["SMEMBERS", prefix + "queues"], ["ZCARD", prefix + "retry"], ["ZCARD", prefix + "schedule"],
            ["ZCARD", prefix + "dead"], ["SMEMBERS", prefix + "processes"],
        ])
        snapshot.roundTripMilliseconds = (clock.now - started).fractionalMilliseconds
        for reply in first { if case .error(let message) = reply { throw RedisError(.server, message) } }
        var queueNames = try strings(first[0], "queues").sorted()
        var identities = try strings(first[4], "processes").sorted()
        snapshot.retry = try count(first[1], "retry")
        snapshot.schedule = try count(first[2], "schedule")
        snapshot.dead = try count(first[3], "dead")
        if queueNames.count > maxQueues || identities.count > maxProcesses {
            snapshot.truncated = true
            queueNames = Array(queueNames.prefix(maxQueues))
            identities = Array(identities.prefix(maxProcesses))
        }
        var commands: [[String]] = []
        for name in queueNames {
            commands.append(["LLEN", prefix + "queue:" + name])
            commands.append(["LINDEX", prefix + "queue:" + name, "-1"])
        }
        for identity in identities {
            commands.append(["HMGET", prefix + identity, "info", "busy", "beat", "quiet", "concurrency"])
        }
        guard !commands.isEmpty else { return snapshot }
        let second = try await redis.pipeline(commands)
        for (i, name) in queueNames.enumerated() {
            let size = try count(second[2 * i], "queue:\(name)")
            let oldest = second[2 * i + 1]
            let enqueuedAt: Double? =
                if case .bulk(let job?) = oldest { enqueuedAt(job) } else { nil }
            snapshot.queues.append(Queue(name: name, size: size, oldestEnqueuedAt: enqueuedAt))
        }
        for (i, identity) in identities.enumerated() {
            guard let fields = second[2 * queueNames.count + i].elements, fields.count == 5 else {
                throw RedisError(.protocolError, "HMGET \(identity): expected 5 fields")
            }
            var process = Process(
                identity: identity, concurrency: 0, busy: Int(fields[1].integer ?? 0),
                beat: fields[2].string.flatMap(Double.init), quiet: fields[3].string == "true", queues: [])
            if case .bulk(let info?) = fields[0] { process.readInfo(info) }
            if let concurrency = fields[4].integer { process.concurrency = Int(concurrency) }
            snapshot.processes.append(process)
        }
        try await readBusyJobs(into: &snapshot, from: redis, prefix: prefix)
        return snapshot
    }

    /// A third round trip, only when some process is busy: the `work` hash of the busiest processes.
    /// A reply past the client's limits fails this part alone (the connection is closed, nothing after
    /// it is read); a server error reply fails the snapshot as any other would.
    static func readBusyJobs(into snapshot: inout SidekiqSnapshot, from redis: RedisConnection, prefix: String)
        async throws(RedisError)
    {
        let busy = snapshot.processes.indices.filter { snapshot.processes[$0].busy > 0 }
            .sorted { snapshot.processes[$0].busy > snapshot.processes[$1].busy }
            .prefix(maxWorkHashes)
        guard !busy.isEmpty else { return }
        let replies: [RESPValue]
        do throws(RedisError) {
            replies = try await redis.pipeline(
                busy.map { ["HVALS", prefix + snapshot.processes[$0].identity + ":work"] })
        } catch  where error.kind == .protocolError {
            snapshot.busyJobsUnread = error.description
            return
        }
        for (index, reply) in zip(busy, replies) {
            if case .error(let message) = reply { throw RedisError(.server, message) }
            for case .bulk(let entry?) in reply.elements ?? [] {
                guard let job = busyJob(entry) else { continue }
                if job.runAt < snapshot.processes[index].oldestJob?.runAt ?? .infinity {
                    snapshot.processes[index].oldestJob = job
                }
            }
        }
    }

    /// One `work` entry: `{"queue": …, "payload": "<the job's JSON>", "run_at": <epoch seconds>}` in
    /// Sidekiq 6.5 to 8 (`run_at` in milliseconds, should a version write it so, is told by its size).
    /// Nil when it has no `run_at`.
    static func busyJob(_ entry: [UInt8]) -> BusyJob? {
        var reader = JSONReader(entry)
        var job = BusyJob(runAt: .nan)
        do {
            try reader.readObject { r, key throws(WireError) in
                switch (key, r.peekKind()) {
                case ("run_at", .number):
                    let value = try r.readNumber().value
                    job.runAt = value > 100_000_000_000 ? value / 1000 : value
                case ("queue", .string): job.queue = try r.readString()
                case ("payload", .string): job.className = jobClass(Array(try r.readString().utf8))
                default: try r.skipValue()
                }
            }
        } catch {
            return nil
        }
        return job.runAt.isFinite ? job : nil
    }

    /// The job's `wrapped` class (ActiveJob) or else its `class`.
    static func jobClass(_ payload: [UInt8]) -> String? {
        var reader = JSONReader(payload)
        var named: String?
        var wrapped: String?
        try? reader.readObject { r, key throws(WireError) in
            switch (key, r.peekKind()) {
            case ("class", .string): named = try r.readString()
            case ("wrapped", .string): wrapped = try r.readString()
            default: try r.skipValue()
            }
        }
        return (wrapped ?? named).map { String($0.prefix(200)) }
    }

    /// `enqueued_at` of a job payload, in epoch seconds: Sidekiq ≤ 7 writes float seconds, Sidekiq 8
    /// integer milliseconds — told apart by the JSON number itself, not by its size.
    static func enqueuedAt(_ job: [UInt8]) -> Double? {
        var reader = JSONReader(job)
        var found: Double?
        do {
            try reader.readObject { r, key throws(WireError) in
                if key == "enqueued_at", r.peekKind() == .number {
                    let number = try r.readNumber()
                    found = number.writtenAsInteger ? number.value / 1000 : number.value
                } else {
                    try r.skipValue()
                }
            }
        } catch {
            return nil
        }
        return found
    }

    private static func strings(_ reply: RESPValue, _ key: String) throws(RedisError) -> [String] {
        guard let elements = reply.elements else { throw RedisError(.protocolError, "\(key): expected a set") }
        return elements.compactMap(\.string)
    }

    private static func count(_ reply: RESPValue, _ key: String) throws(RedisError) -> Int {
        guard case .integer(let value) = reply, value >= 0 else {
            throw RedisError(.protocolError, "\(key): expected a count")
        }
        return Int(value)
    }
}

extension SidekiqSnapshot.Process {
    /// Fields of the process's `info` JSON; a malformed one leaves them unset (the heartbeat still counts).
    mutating func readInfo(_ json: [UInt8]) {
        var reader = JSONReader(json)
        var info = self
        do {
            try reader.readObject { r, key throws(WireError) in
                switch (key, r.peekKind()) {
                case ("hostname", .string): info.hostname = try r.readString()
                case ("tag", .string): info.tag = try r.readString()
                case ("version", .string): info.version = try r.readString()
                case ("pid", .number): info.pid = try r.readInteger(Int.self, in: 0...Int(Int32.max))
                case ("concurrency", .number): info.concurrency = try r.readInteger(Int.self, in: 0...100_000)
                case ("queues", .array):
                    try r.readArray(maxCount: 1024) { r throws(WireError) in
                        // Sidekiq 6.5 may list a weighted queue as "name,weight".
                        if r.peekKind() == .string {
                            info.queues.append(String(try r.readString().prefix { $0 != "," }))
                        } else {
                            try r.skipValue()
                        }
                    }
                default: try r.skipValue()
                }
            }
            self = info
        } catch {
            return
        }
    }
}
