import Foundation

/// `herd-controller serve` as a child process, ready once it printed where it listens; stopped with
/// SIGTERM (graceful) or SIGKILL (a crash). For the end-to-end tests and the ingest/status benchmarks.
public final class ControllerProcess: @unchecked Sendable {
    public let process: Process

    /// `binary`: the herd-controller executable; `dataDirectory`: made by `herd-controller init`.
    public init(binary: String, dataDirectory: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--data-dir", dataDirectory, "--log-level", "error"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("listening") {
            let chunk = pipe.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw FixtureError("herd-controller serve exited before listening") }
            seen += chunk
        }
    }

    public var isRunning: Bool { process.isRunning }

    /// SIGTERM and wait: in-flight requests finish, the database closes.
    public func stop() { signal(SIGTERM) }

    /// SIGKILL and wait: the controller dies mid-request.
    public func kill() { signal(SIGKILL) }

    private func signal(_ number: Int32) {
        guard process.isRunning else { return }
        Glibc.kill(process.processIdentifier, number)
        process.waitUntilExit()
    }

    deinit { kill() }
}
