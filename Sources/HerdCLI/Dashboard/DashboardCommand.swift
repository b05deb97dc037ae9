import ArgumentParser
import Foundation
import HerdProtocol

/// `herdctl dashboard`: the fleet in a browser, served from this machine with this operator's identity.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve the web dashboard on 127.0.0.1 of this machine, with your identity; print its login URL.",
        discussion: """
            Pages: the fleet (filters, sorting, refreshing itself), one instance (checks, open incidents, \
            charts of 5xx rate, Sidekiq latency, PostgreSQL connections and disk used with its time to full, \
            from hourly rollups and raw history), incidents (cause, evidence, timeline, remediations), \
            remediations awaiting approval (the exact command decoded from its signed bytes, its dry run, \
            who signed; approving signs here with your key, as remediate approve does) and the audit log \
            verified on this machine. It listens on 127.0.0.1 only, on a random port unless --port says; \
            the printed URL holds a one-time token for one browser session. Nothing is fetched from \
            elsewhere; no script runs in the pages. Stops on Ctrl-C.
            """)

    @Option(help: "The local port (0: any free one).") var port = 0
    @Flag(help: "Open the login URL with xdg-open.") var open = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port is 0 to 65535") }
    }

    func run() async throws {
        let server = try DashboardServer(connection: connection)
        let open = self.open
        let app = server.application(port: port) { _ in
            let url = server.loginURL
            // One line that scripts and tests wait for, written at once (stdout may be a pipe).
            let line = Array("herdctl dashboard on \(url)\n".utf8)
            _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
            if open {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/xdg-open")
                process.arguments = [url]
                try? process.run()
            }
        }
        do {
            try await app.runService()
        } catch {
            await server.client.shutdown()
            throw error
        }
        await server.client.shutdown()
    }
}
