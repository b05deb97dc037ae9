import HerdProtocol
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where checks' memories live between cycles.
public protocol CheckMemoryStore: Sendable {
    func load(_ checkID: String) -> CheckMemory
    func save(_ memory: CheckMemory, for checkID: String) throws(HostError)
}

/// Memories kept in this process only: `herd-agent check` uses it so that a one-off run never moves
/// the daemon's journal cursors or file offsets.
public final class EphemeralMemoryStore: CheckMemoryStore {
    private let memories = Mutex<[String: CheckMemory]>([:])

    public init() {}

    public func load(_ checkID: String) -> CheckMemory {
        memories.withLock { $0[checkID] ?? CheckMemory() }
    }

    public func save(_ memory: CheckMemory, for checkID: String) throws(HostError) {
        memories.withLock { $0[checkID] = memory }
    }
}

/// One JSON file per check in `<state dir>/checks/`, replaced atomically (write, fsync, rename), 0600.
/// A file that does not parse is set aside as `.corrupt` and the check starts afresh.
public struct DirectoryMemoryStore: CheckMemoryStore {
    public let directory: String

    public init(stateDirectory: String) throws(HostError) {
        directory = stateDirectory + "/checks"
        for path in [stateDirectory, directory] where mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw .errno(errno, path)
        }
    }

    private func path(_ checkID: String) -> String { "\(directory)/\(checkID).json" }

    public func load(_ checkID: String) -> CheckMemory {
        let file = path(checkID)
        guard let bytes = try? HostFilesystem().read(file, maxBytes: 1 << 20) else { return CheckMemory() }
        do {
            return try WireCoding.decode(CheckMemory.self, from: bytes, maxBytes: 1 << 20)
        } catch {
            rename(file, file + ".corrupt")
            return CheckMemory()
        }
    }

    public func save(_ memory: CheckMemory, for checkID: String) throws(HostError) {
        let file = path(checkID)
        let temporary = file + ".tmp"
        let bytes = WireCoding.encode(memory)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw .errno(errno, temporary) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = errno
                close(fd)
                unlink(temporary)
                throw .errno(code, temporary)
            }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, file) == 0 else {
            let code = errno
            unlink(temporary)
            throw .errno(code, file)
        }
    }
}
