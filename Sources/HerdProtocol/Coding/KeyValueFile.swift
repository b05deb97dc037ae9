/// The `key = value` format of Herd's configuration files (agent, controller, herdctl): one setting per
/// line, `#` starts a comment line, blank lines ignored, each key at most once. Each program maps keys
/// to typed, bounded values itself; this only splits lines and refuses what no program could read.
public enum KeyValueFile {
    public struct Entry: Sendable, Hashable {
        public var line: Int
        public var key: String
        public var value: String
    }

    /// The entries in order, or `"LINE: problem"` for the first line that is not `key = value` or
    /// repeats a key.
    public static func parse(_ text: String) throws(KeyValueFileError) -> [Entry] {
        var entries: [Entry] = []
        var seen: Set<String> = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmed(" \t\r")
            if line.isEmpty || line.first == "#" { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw KeyValueFileError(line: offset + 1, problem: "expected key = value")
            }
            let key = String(line[..<equals].trimmed(" \t"))
            let value = String(line[line.index(after: equals)...].trimmed(" \t"))
            guard seen.insert(key).inserted else {
                throw KeyValueFileError(line: offset + 1, problem: "\(key) is set twice")
            }
            entries.append(Entry(line: offset + 1, key: key, value: value))
        }
        return entries
    }
}

public struct KeyValueFileError: Error, Sendable, Hashable {
    public var line: Int
    public var problem: String
}

extension StringProtocol {
    /// Without leading and trailing characters from `characters` (FoundationEssentials has no
    /// `trimmingCharacters(in:)`).
    public func trimmed(_ characters: String = " \t\r\n") -> SubSequence {
        guard let first = firstIndex(where: { !characters.contains($0) }) else { return self[endIndex...] }
        let last = lastIndex(where: { !characters.contains($0) })!
        return self[first...last]
    }
}
