import ArgumentParser
import Foundation
import HerdProtocol

/// The ids this operator denied, kept next to herdctl's configuration: `approve` refuses them, so a
/// controller that revives a denied command (under any description) cannot get it signed here.
struct DeniedLedger {
    let path: String

    init(_ connection: ConnectionOptions) {
        let config = connection.config ?? ConnectionOptions.defaultConfig
        path = (config as NSString).deletingLastPathComponent + "/denied"
    }

    func contains(_ id: String) throws -> Bool {
        guard SecureFile.exists(path) else { return false }
        do {
            return try SecureFile.readText(path, maxBytes: 16 << 20).split(separator: "\n").contains { $0 == id }
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
    }

    /// Recorded before the controller is asked, so that a denial is remembered even if the answer is lost.
    func add(_ id: String) throws {
        guard try !contains(id) else { return }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw HerdctlError(
                description: "\(path): \(String(cString: strerror(errno)))", status: HerdctlExit.usage)
        }
        defer { close(fd) }
        let line = Array((id + "\n").utf8)
        guard line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count, fsync(fd) == 0 else {
            throw HerdctlError(description: "\(path): cannot record the denial", status: HerdctlExit.usage)
        }
    }
}
