import Foundation
import HerdTestSupport
import Testing

/// The README's "fleet by hand" runs as written: its shell block, run by bash with the built binaries on
/// `PATH`, enrolls an agent, and ends with a remediation that two operators signed executed by the host
/// (succeeded, or failed where the machine has no `mastodon-sidekiq` unit — never refused), and the
/// audit chain intact. Only the port changes (a free one instead of 8443); the harness adds a trap so
/// that a failing line leaves no process behind. Run as a reader would paste it (without `-e`: `herdctl
/// status` exits 1 for a critical instance), so no line may print an error.
@Suite struct ReadmeFleetByHandTests {
    static let marker = "A fleet by hand, step by step"

    /// The first `sh` block after the marker.
    static func fleetByHand(_ readme: String) throws -> String {
        guard let section = readme.range(of: marker),
            let open = readme.range(of: "```sh\n", range: section.upperBound..<readme.endIndex),
            let close = readme.range(of: "\n```", range: open.upperBound..<readme.endIndex)
        else { throw FixtureError("README.md has no sh block after \"\(marker)\"") }
        return String(readme[open.upperBound..<close.lowerBound])
    }

    @Test(.enabled(if: getuid() == 0, "the host's allowlist and trust file must belong to root, as on a real host"))
    func theReadmeStepsRunAsWritten() throws {
        let block = try Self.fleetByHand(String(contentsOfFile: RepositoryPaths.path("README.md"), encoding: .utf8))
        #expect(block.contains("PORT=8443"))
        let directory = try TemporaryDirectory("readme")
        defer { directory.remove() }
        let port = try FreePort.next()
        try directory.write(
            "steps.sh",
            """
            trap 'kill $(jobs -p) 2>/dev/null; wait; [ -z "${HERD:-}" ] || rm -rf "$HERD"' EXIT
            trap 'exit 143' TERM
            \(block.replacingOccurrences(of: "PORT=8443", with: "PORT=\(port)"))

            """)
        let path =
            RepositoryPaths.path(".build/debug") + ":"
            + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let (status, output) = try runExecutable(
            "/usr/bin/timeout", ["-k", "10", "300", "/bin/bash", "-u", directory.file("steps.sh")],
            environment: ["PATH": path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("enrolled: agent"), "\(output)")
        #expect(output.contains("social.example"), "\(output)")
        let states = output.split(separator: "\n").compactMap { line -> Substring? in
            guard line.hasPrefix("remediation "), let colon = line.firstIndex(of: ":") else { return nil }
            return line[line.index(after: colon)...].dropFirst()
        }
        #expect(["succeeded", "failed"].contains(states.last), "\(output)")
        #expect(output.contains("audit chain intact"), "\(output)")
        let errors = output.split(separator: "\n").filter {
            $0.hasPrefix("herdctl: ") || $0.lowercased().hasPrefix("error")
        }
        #expect(errors.isEmpty, "\(output)")
    }
}
