/// A `.env` file as the dotenv gem reads Mastodon's `.env.production`: `KEY=value` lines, optional
/// `export`, `#` comments, single quotes (literal), double quotes (escapes, may span lines), unquoted
/// values with trailing comments, and `$VAR`/`${VAR}` expansion from keys defined earlier in the file.
///
/// It is parsed, never executed: `$(command)` stays as text. Problems are reported by line number
/// only, because values are secrets (`DB_PASS`, `OTP_SECRET`).
public struct DotEnv: Sendable, Hashable {
    public var values: [String: String]
    /// `LINE: problem`, never quoting the value.
    public var problems: [String]

    public subscript(key: String) -> String? { values[key] }

    public init(values: [String: String] = [:], problems: [String] = []) {
        self.values = values
        self.problems = problems
    }

    public static func parse(_ text: String) -> DotEnv {
        var env = DotEnv()
        // dotenv turns \r\n and \r into \n first. ("\r\n" is one Character in Swift: splitting on "\n"
        // alone would read a file saved with Windows line endings as one line.)
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        var index = 0
        while index < lines.count {
            let number = index + 1
            var line = lines[index].drop { $0 == " " || $0 == "\t" }
            index += 1
            if line.isEmpty || line.first == "#" { continue }
            if line.hasPrefix("export ") { line = line.dropFirst(7).drop { $0 == " " } }
            guard let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                env.problems.append("\(number): not KEY=value")
                continue
            }
            let key = String(line[..<separator].trimmingSuffix { $0 == " " || $0 == "\t" })
            guard isKey(key) else {
                env.problems.append("\(number): invalid key")
                continue
            }
            var rest = Substring(line[line.index(after: separator)...]).drop { $0 == " " || $0 == "\t" }
            let value: String
            switch rest.first {
            case "'":
                rest = rest.dropFirst()
                // Single quotes are literal and may span lines.
                var text = ""
                while true {
                    if let end = rest.firstIndex(of: "'") {
                        text += rest[..<end]
                        break
                    }
                    guard index < lines.count else {
                        env.problems.append("\(number): unterminated single quote")
                        text += rest
                        break
                    }
                    text += rest
                    text += "\n"
                    rest = lines[index]
                    index += 1
                }
                value = text
            case "\"":
                rest = rest.dropFirst()
                var raw = ""
                var closed = false
                while !closed {
                    var escaped = false
                    for i in rest.indices {
                        let c = rest[i]
                        if escaped {
                            raw.append("\\")
                            raw.append(c)
                            escaped = false
                        } else if c == "\\" {
                            escaped = true
                        } else if c == "\"" {
                            closed = true
                            break
                        } else {
                            raw.append(c)
                        }
                    }
                    if closed { break }
                    guard index < lines.count else {
                        env.problems.append("\(number): unterminated double quote")
                        break
                    }
                    raw.append("\n")
                    rest = lines[index]
                    index += 1
                }
                value = expand(unescape(raw), env.values)
            default:
                var text = rest
                if let comment = text.firstRange(of: " #") { text = text[..<comment.lowerBound] }
                value = expand(String(text.trimmingSuffix { $0 == " " || $0 == "\t" }), env.values)
            }
            env.values[key] = value
        }
        return env
    }

    static func isKey(_ key: String) -> Bool {
        guard let first = key.utf8.first, first == 0x5F || (first | 0x20 >= 0x61 && first | 0x20 <= 0x7A) else {
            return false
        }
        return key.utf8.allSatisfy { b in
            b == 0x5F || b == 0x2E || (b >= 0x30 && b <= 0x39) || (b | 0x20 >= 0x61 && b | 0x20 <= 0x7A)
        }
    }

    /// Double-quote escapes: `\n`, `\t`, `\"`, `\\`, `\$` (kept for `expand` to leave alone).
    private static func unescape(_ raw: String) -> String {
        var out = ""
        var escaped = false
        for c in raw {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "$": out.append("\u{0}$")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// `$VAR` and `${VAR}` from keys defined earlier; an unknown name expands to nothing, as in dotenv.
    /// `$(…)` is left as text: this parser never runs anything.
    private static func expand(_ value: String, _ known: [String: String]) -> String {
        guard value.contains("$") else { return value }
        var out = ""
        var chars = Array(value)[...]
        while let c = chars.popFirst() {
            if c == "\u{0}", chars.first == "$" {
                out.append(chars.removeFirst())
                continue
            }
            guard c == "$", let next = chars.first, next == "{" || next == "_" || next.isLetter else {
                out.append(c)
                continue
            }
            var name = ""
            if next == "{" {
                guard let close = chars.firstIndex(of: "}") else {
                    out.append(c)
                    continue
                }
                name = String(chars[chars.index(after: chars.startIndex)..<close])
                chars = chars[chars.index(after: close)...]
            } else {
                while let n = chars.first, n == "_" || n.isLetter || n.isNumber {
                    name.append(n)
                    chars.removeFirst()
                }
            }
            out += known[name] ?? ""
        }
        return out
    }
}

extension Substring {
    fileprivate func trimmingSuffix(while predicate: (Character) -> Bool) -> Substring {
        var end = endIndex
        while end > startIndex, predicate(self[index(before: end)]) { end = index(before: end) }
        return self[startIndex..<end]
    }
}
