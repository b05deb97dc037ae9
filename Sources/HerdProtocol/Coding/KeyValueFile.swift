/// The `key = value` format of Herd's configuration files (agent, controller, herdctl): one setting per
/// line, `#` starts a comment line, blank lines ignored, each key at most once. Each program maps keys
/// to typed, bounded values itself; this only splits lines and refuses what no program could read.
/// Where a program allows them, `[NAME]` lines start sections (the agent's instances): the keys after
/// one, up to the next, are that section's, and a key is set at most once per section.
public enum KeyValueFile {
    public struct Entry: Sendable, Hashable {
        public var line: Int
        public var key: String
        public var value: String
        /// The `[NAME]` the entry is under; nil before the first section.
        public var section: String?
    }

    /// The entries in order, or `"LINE: problem"` for the first line that is not `key = value` (or a
    /// `[NAME]` line, when `sections` allows them), repeats a key, or repeats a section.
    public static func parse(_ text: String, sections: Bool = false) throws(KeyValueFileError) -> [Entry] {
        var entries: [Entry] = []
        var seen: Set<String> = []
        var section: String?
        var sectionsSeen: Set<String> = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmed(" \t\r")
            if line.isEmpty || line.first == "#" { continue }
            if sections, line.first == "[", line.last == "]" {
                let name = String(line.dropFirst().dropLast().trimmed(" \t"))
                guard !name.isEmpty, sectionsSeen.insert(name).inserted else {
                    throw KeyValueFileError(
                        line: offset + 1,
                        problem: name.isEmpty ? "empty section name" : "section [\(name)] appears twice")
                }
                section = name
                seen = []
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw KeyValueFileError(line: offset + 1, problem: "expected key = value")
            }
            let key = String(line[..<equals].trimmed(" \t"))
            let value = String(line[line.index(after: equals)...].trimmed(" \t"))
            guard seen.insert(key).inserted else {
                throw KeyValueFileError(line: offset + 1, problem: "\(key) is set twice")
            }
            entries.append(Entry(line: offset + 1, key: key, value: value, section: section))
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
