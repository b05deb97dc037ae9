import FoundationEssentials
import HerdProtocol
import Synchronization

/// What the agent must remember across restarts about commands: every id it has seen (until long after
/// the command could still be valid) and when each rate-limited action last ran. One file,
/// `STATE_DIR/remediation/ledger`, rewritten whole and fsync'd (SecureFile) **before** anything runs, so
/// a crash mid-action never lets the same command run twice.
///
/// Lines: `seen ID EXPIRES_AT` and `ran KEY AT` (Unix seconds).
public final class CommandLedger: Sendable {
    struct State {
        var seen: [String: Double] = [:]
        var runs: [(key: String, at: Double)] = []
    }

    public let file: String
    private let state: Mutex<State>

    public init(stateDirectory: String) throws(SecureFileError) {
        let directory = stateDirectory + "/remediation"
        try SecureFile.makeDirectory(directory)
        file = directory + "/ledger"
        var loaded = State()
        if SecureFile.exists(file) {
            for line in try SecureFile.readText(file, maxBytes: 16 << 20).split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count == 3, let time = Double(parts[2]) else { continue }
                switch parts[0] {
                case "seen": loaded.seen[String(parts[1])] = time
                case "ran": loaded.runs.append((String(parts[1]), time))
                default: continue
                }
            }
        }
        state = Mutex(loaded)
    }

    public func hasSeen(_ id: String) -> Bool {
        state.withLock { $0.seen[id] != nil }
    }

    /// How many runs counted against `key` in the `window` seconds before `now`.
    public func runs(_ key: String, within window: Double, now: Double) -> Int {
        state.withLock { $0.runs.filter { $0.key == key && $0.at > now - window }.count }
    }

    /// Records the id (and, when it will run, the run), durably. Returns false when the id was seen
    /// already — the caller must then not run it.
    public func record(id: String, expiresAt: Double, run key: String?, now: Double) throws(SecureFileError) -> Bool {
        try state.withLock { state throws(SecureFileError) -> Bool in
            guard state.seen[id] == nil else { return false }
            var next = state
            next.seen[id] = expiresAt
            if let key { next.runs.append((key, now)) }
            // Ids are kept an hour past expiry (a command is refused as expired after that anyway, and the
            // longest validity is an hour); runs for 31 days (the longest rate-limit window is 30).
            next.seen = next.seen.filter { $0.value > now - 3600 }
            next.runs = next.runs.filter { $0.at > now - 31 * 86_400 }
            var text = ""
            for (seen, expires) in next.seen.sorted(by: { $0.key < $1.key }) { text += "seen \(seen) \(expires)\n" }
            for run in next.runs { text += "ran \(run.key) \(run.at)\n" }
            try SecureFile.write(text, to: file)
            state = next
            return true
        }
    }
}
