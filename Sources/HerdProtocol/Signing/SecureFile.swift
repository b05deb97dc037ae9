#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a key, certificate or state file could not be written or read. The message names the path and
/// the reason, never the content.
public struct SecureFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var reason: String
    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }
    public var description: String { "\(path): \(reason)" }
}

/// Files that hold keys, certificates and state: written whole or not at all (a temporary file, fsync,
/// rename, fsync of the directory), with the mode set at creation — never created readable and then
/// narrowed — and never followed through a symlink.
public enum SecureFile {
    /// Writes `bytes` to `path` with `mode`. `replace: false` refuses to touch an existing file, so
    /// re-running an `init` never overwrites a key.
    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600, replace: Bool = true)
        throws(SecureFileError)
    {
        if !replace, exists(path) { throw SecureFileError(path, "already exists; refusing to overwrite it") }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw SecureFileError(temporary, describe(errno)) }
        // The umask may have narrowed the mode further; never widen it, but make it exactly `mode`.
        _ = fchmod(fd, mode)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = errno
                close(fd)
                unlink(temporary)
                throw SecureFileError(path, describe(code))
            }
            written += n
        }
        let synced = fsync(fd) == 0
        close(fd)
        if !replace, exists(path) {
            unlink(temporary)
            throw SecureFileError(path, "already exists; refusing to overwrite it")
        }
        guard synced, rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw SecureFileError(path, describe(code))
        }
        syncDirectory(of: path)
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o600, replace: Bool = true)
        throws(SecureFileError)
    {
        try write(Array(text.utf8), to: path, mode: mode, replace: replace)
    }

    /// Reads at most `maxBytes`. `private: true` refuses a file that its group or others may read or
    /// write, or that is not a regular file — a key anyone else can read is no longer a key.
    public static func read(_ path: String, maxBytes: Int = 1 << 20, private isPrivate: Bool = false)
        throws(SecureFileError) -> [UInt8]
    {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer for ever; it is
        // refused below as not a regular file, and a regular file reads the same either way.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else { throw SecureFileError(path, describe(errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SecureFileError(path, describe(errno)) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SecureFileError(path, "not a regular file") }
        if isPrivate, info.st_mode & 0o077 != 0 {
            throw SecureFileError(
                path, "mode \(String(info.st_mode & 0o777, radix: 8)) lets others read it; chmod 600 it")
        }
        guard info.st_size <= maxBytes else { throw SecureFileError(path, "larger than \(maxBytes) bytes") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return Array(bytes[..<done])
    }

    public static func readText(_ path: String, maxBytes: Int = 1 << 20, private isPrivate: Bool = false)
        throws(SecureFileError) -> String
    {
        String(decoding: try read(path, maxBytes: maxBytes, private: isPrivate), as: UTF8.self)
    }

    /// Renames `from` to `to` (atomically replacing nothing: `to` must not exist) and syncs the directory.
    public static func move(_ from: String, to: String) throws(SecureFileError) {
        if exists(to) { throw SecureFileError(to, "already exists; refusing to overwrite it") }
        guard rename(from, to) == 0 else { throw SecureFileError(from, describe(errno)) }
        syncDirectory(of: to)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Creates `path` (and missing parents) with `mode`; an existing directory is left as it is.
    public static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws(SecureFileError) {
        var partial = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, mode) != 0, errno != EEXIST { throw SecureFileError(partial, describe(errno)) }
        }
    }

    private static func syncDirectory(of path: String) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        let fd = open(directory.isEmpty ? (path.hasPrefix("/") ? "/" : ".") : directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
    }

    static func describe(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}
