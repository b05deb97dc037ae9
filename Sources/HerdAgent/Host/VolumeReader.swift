#if canImport(Glibc)
    import Glibc
#endif

/// Space and inodes of the filesystem holding a path, as `statvfs(3)` reports them to an unprivileged
/// user (`available` excludes blocks reserved for root, as `df` shows).
public struct VolumeUsage: Sendable, Hashable {
    public var filesystemID: UInt64
    public var totalBytes: UInt64
    public var availableBytes: UInt64
    public var totalInodes: UInt64
    public var availableInodes: UInt64

    public init(
        filesystemID: UInt64, totalBytes: UInt64, availableBytes: UInt64, totalInodes: UInt64, availableInodes: UInt64
    ) {
        self.filesystemID = filesystemID
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
        self.totalInodes = totalInodes
        self.availableInodes = availableInodes
    }

    public var usedBytes: UInt64 { totalBytes - min(availableBytes, totalBytes) }
    public var usedRatio: Double { totalBytes == 0 ? 0 : Double(usedBytes) / Double(totalBytes) }
    /// Filesystems without inode accounting (btrfs, some FUSE) report zero inodes: their ratio is 0.
    public var inodesUsedRatio: Double {
        totalInodes == 0 ? 0 : Double(totalInodes - min(availableInodes, totalInodes)) / Double(totalInodes)
    }
}

/// Reads volume usage; a separate surface from `HostFilesystem` because a fixture tree cannot fake
/// `statvfs`, while a test can hand the disk check any volume it wants.
public protocol VolumeReader: Sendable {
    func usage(of hostPath: String) throws(HostError) -> VolumeUsage
}

public struct StatvfsVolumeReader: VolumeReader {
    public let filesystem: HostFilesystem

    public init(filesystem: HostFilesystem) {
        self.filesystem = filesystem
    }

    public func usage(of hostPath: String) throws(HostError) -> VolumeUsage {
        var st = statvfs()
        guard statvfs(filesystem.resolve(hostPath), &st) == 0 else { throw .errno(errno, hostPath) }
        let unit = UInt64(st.f_frsize)
        return VolumeUsage(
            filesystemID: UInt64(st.f_fsid), totalBytes: UInt64(st.f_blocks) * unit,
            availableBytes: UInt64(st.f_bavail) * unit, totalInodes: UInt64(st.f_files),
            availableInodes: UInt64(st.f_favail))
    }
}
