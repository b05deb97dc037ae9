import Foundation

/// `herd-controller serve` as a child process, ready once it printed where it listens; stopped with
/// SIGTERM (graceful) or SIGKILL (a crash). For the end-to-end tests and the ingest/status benchmarks.
public final class ControllerProcess: @unchecked Sendable {
    public let process: Process
    /// Where `/metrics`, `/health` and `/ready` answer: any free port (controller.conf must not turn
    /// the listener off).
    public private(set) var metricsPort = 0

    /// `binary`: the herd-controller executable; `dataDirectory`: made by `herd-controller init`.
    public init(binary: String, dataDirectory: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--data-dir", dataDirectory, "--log-level", "error", "--metrics-port", "0"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = ""
        while !seen.contains("listening on") || !seen.contains("metrics on") || !seen.hasSuffix("\n") {
            let chunk = pipe.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw FixtureError("herd-controller serve exited before listening") }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        if let line = seen.split(separator: "\n").first(where: { $0.hasPrefix("herd-controller metrics on") }),
            let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...])
        {
            metricsPort = port
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
