#if canImport(Glibc)
    import Glibc
#endif

/// The host's files, seen from a root directory: `/` on a real host, a fixture tree in tests
/// (node_exporter's `--path.rootfs`). Every path a check names is absolute *on the host* and is
/// resolved under `root` here, `/proc` included.
public struct HostFilesystem: Sendable {
    public let root: String

    public init(root: String = "/") {
        var root = root
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        self.root = root
    }

    /// Where `hostPath` (absolute on the host) is on this machine.
    public func resolve(_ hostPath: String) -> String {
        root == "/" ? hostPath : root + (hostPath.hasPrefix("/") ? hostPath : "/" + hostPath)
    }

    public struct Status: Sendable, Hashable {
        public var device: UInt64
        public var inode: UInt64
        public var size: Int64
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32

        public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
        public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
        public var permissions: UInt32 { mode & 0o7777 }
    }

    /// `stat(2)` of a host path, following symlinks.
    public func status(_ hostPath: String) throws(HostError) -> Status {
        var st = stat()
        guard stat(resolve(hostPath), &st) == 0 else { throw .errno(errno, hostPath) }
        return Status(st)
    }

    public func exists(_ hostPath: String) -> Bool {
        access(resolve(hostPath), F_OK) == 0
    }

    /// A whole small file (`/proc/meminfo`, `.env.production`); refuses one larger than `maxBytes` and
    /// anything that is not a regular file (a FIFO would block, a device never end) — except under
    /// `/proc` and `/sys`, whose files report size 0 and are read up to the cap.
    public func read(_ hostPath: String, maxBytes: Int = 1 << 20) throws(HostError) -> [UInt8] {
        let fd = try openForReading(
            hostPath, allowSpecialFiles: hostPath.hasPrefix("/proc/") || hostPath.hasPrefix("/sys/"))
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .errno(errno, hostPath)
            }
            if n == 0 { return bytes }
            guard bytes.count + n <= maxBytes else {
                throw HostError(.tooLarge, "\(hostPath): larger than \(maxBytes) bytes")
            }
            bytes.append(contentsOf: chunk[0..<n])
        }
    }

    /// A small text file, with invalid UTF-8 replaced rather than refused.
    public func readText(_ hostPath: String, maxBytes: Int = 1 << 20) throws(HostError) -> String {
        String(decoding: try read(hostPath, maxBytes: maxBytes), as: UTF8.self)
    }

    /// Opens a host file for reading without ever blocking on it: FIFOs, sockets and devices are refused.
    public func openForReading(_ hostPath: String, allowSpecialFiles: Bool = false) throws(HostError) -> Int32 {
        let fd = open(resolve(hostPath), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { throw .errno(errno, hostPath) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let code = errno
            close(fd)
            throw .errno(code, hostPath)
        }
        let status = Status(st)
        if status.isDirectory {
            close(fd)
            throw HostError(.invalid, "\(hostPath): is a directory")
        }
        if !status.isRegularFile && !allowSpecialFiles {
            close(fd)
            throw HostError(.invalid, "\(hostPath): not a regular file")
        }
        return fd
    }

    /// Names in a directory, sorted, without `.` and `..`.
    public func list(_ hostPath: String) throws(HostError) -> [String] {
        guard let dir = opendir(resolve(hostPath)) else { throw .errno(errno, hostPath) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// A user from the host's `/etc/passwd` (under the root), e.g. to tell who owns media files.
    public func user(named name: String) throws(HostError) -> (uid: UInt32, gid: UInt32)? {
        let text = try readText("/etc/passwd")
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4, fields[0] == name, let uid = UInt32(fields[2]), let gid = UInt32(fields[3])
            else { continue }
            return (uid, gid)
        }
        return nil
    }
}

extension HostFilesystem.Status {
    init(_ st: stat) {
        self.init(
            device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size), mode: UInt32(st.st_mode),
            uid: st.st_uid, gid: st.st_gid)
    }
}
