import Foundation

/// `herdctl dashboard` as a child process, ready once it printed its login URL; stopped with SIGTERM.
public final class DashboardProcess: @unchecked Sendable {
    private let process = Process()
    /// The one-time login URL it printed, and the server's own address.
    public let login: String
    public let base: String

    public init(config: String) throws {
        process.executableURL = URL(fileURLWithPath: try BuiltProduct.path("herdctl"))
        process.arguments = ["dashboard", "--config", config]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var printed = ""
        while !printed.contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw FixtureError("herdctl dashboard exited before listening") }
            printed += String(decoding: chunk, as: UTF8.self)
        }
        guard let url = printed.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines),
            let base = url.components(separatedBy: "/login").first
        else { throw FixtureError("herdctl dashboard printed \(printed)") }
        login = url
        self.base = base
    }

    public func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
