import HerdProtocol

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Golden files: compare produced bytes with a checked-in file, or rewrite the file when the
/// environment has `HERD_UPDATE_GOLDEN=1` (then review the diff before committing).
public enum Golden {
    public static var isUpdating: Bool { ProcessInfo.processInfo.environment["HERD_UPDATE_GOLDEN"] == "1" }

    /// Returns nil when the file matches (or was rewritten), else a description of the difference.
    public static func compare(_ produced: [UInt8], toFile absolutePath: String) throws -> String? {
        if isUpdating {
            try Data(produced).write(to: URL(fileURLWithPath: absolutePath), options: .atomic)
            return nil
        }
        guard let expected = FileManager.default.contents(atPath: absolutePath) else {
            return "golden file \(absolutePath) is missing (run with HERD_UPDATE_GOLDEN=1 to create it)"
        }
        if Array(expected) == produced { return nil }
        let old = Array(expected)
        let mismatch =
            zip(old.indices, zip(old, produced)).first { $0.1.0 != $0.1.1 }?.0 ?? min(old.count, produced.count)
        return
            "\(absolutePath) differs at byte \(mismatch) (expected \(expected.count) bytes, produced \(produced.count));"
            + " run with HERD_UPDATE_GOLDEN=1 to rewrite it"
    }
}

extension Golden {
    /// Compares the settings of an example configuration file (its lines that are not comments or
    /// blank) with `rendered` — what the program's key table writes for its defaults — and says how
    /// they differ, or nil. With `HERD_UPDATE_GOLDEN=1` each setting line takes its rendered form in
    /// place, the comments kept.
    public static func compareSettings(_ rendered: String, toExample relativePath: String) throws -> String? {
        let path = RepositoryPaths.path(relativePath)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        func isSetting(_ line: Substring) -> Bool { !line.isEmpty && !line.hasPrefix("#") }
        func key(_ line: Substring) -> String { String(line.prefix { $0 != "=" }.trimmed(" ")) }
        let wanted = rendered.split(separator: "\n").map(String.init)
        var byKey: [String: String] = [:]
        for line in wanted { byKey[key(Substring(line))] = line }
        let settings = text.split(separator: "\n").filter(isSetting).map(String.init)
        guard settings != wanted else { return nil }
        if isUpdating {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
                guard isSetting(line), let rendered = byKey[key(line)] else { return String(line) }
                return rendered
            }
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        let missing = wanted.filter { !settings.contains($0) }
        let extra = settings.filter { !wanted.contains($0) }
        return "\(relativePath) differs from the key table: wanted \(missing), found \(extra)"
            + (isUpdating ? " (rewritten: review the diff)" : "; HERD_UPDATE_GOLDEN=1 rewrites its values")
    }
}
