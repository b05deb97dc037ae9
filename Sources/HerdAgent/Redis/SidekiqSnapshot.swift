import HerdProtocol

/// What Sidekiq keeps in Redis, read with Sidekiq's own keys (the same in 6.5, 7.x and 8.x):
/// `queues` (set), `queue:NAME` (list, oldest job at the right), `retry`/`schedule`/`dead` (sorted
/// sets), `processes` (set) and one hash per process with `info` (JSON), `busy`, `beat`, `quiet`.
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

    public static let maxQueues = 64
    public static let maxProcesses = 256

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
        return snapshot
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
