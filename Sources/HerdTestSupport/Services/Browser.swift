import Foundation

/// A real headless Chromium (Debian's `chromium`), driven through the DevTools protocol by
/// `Tests/Browser/cdp.py`: each step a JSON object, each answer one. For the dashboard's tests.
public enum Browser {
    public static var chromium: String {
        get throws {
            guard
                let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first(where: {
                    FileManager.default.isExecutableFile(atPath: $0)
                })
            else { throw FixtureError("chromium is missing: install Debian's chromium (scripts/test.sh does)") }
            return path
        }
    }

    /// Runs `steps` in one browser, in order (screenshots and page texts land in `directory`); each
    /// step's answer, decoded.
    public static func run(_ steps: [[String: Any]], screenshots directory: String) throws -> [[String: Any]] {
        let input = directory + "/steps-\(UInt32.random(in: 0...UInt32.max)).jsonl"
        let lines = try steps.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let python = ProcessInfo.processInfo.environment["HERD_PYTHON"] ?? "python3"
        let answer = try runExecutable(
            "/usr/bin/env", [python, RepositoryPaths.path("Tests/Browser/cdp.py"), try chromium, directory],
            input: input)
        guard answer.status == 0 else { throw FixtureError("cdp.py: \(answer.output)") }
        let results = answer.output.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        guard results.count == steps.count else {
            throw FixtureError("cdp.py answered \(results.count) of \(steps.count) steps: \(answer.output)")
        }
        return results
    }
}
