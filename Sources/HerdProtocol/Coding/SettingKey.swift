/// One key of a `key = value` configuration file (`KeyValueFile`), declared once: its name, how its
/// value is read — typed and bounded, the error saying what is expected — and how it is written back.
/// A program's table of them (`AgentConfiguration.settings`, `ControllerConfiguration.settings`) is
/// where its keys live: parsing, rendering, the list of keys and the example file's test follow it.
public struct SettingKey<Settings> {
    public let name: String
    public let read: (inout Settings, String) throws(SettingError) -> Void
    public let write: (Settings) -> String

    public init(
        _ name: String, read: @escaping (inout Settings, String) throws(SettingError) -> Void,
        write: @escaping (Settings) -> String
    ) {
        self.name = name
        self.read = read
        self.write = write
    }

    /// `settings` as the lines of a configuration file, one per key of `table`, in its order.
    public static func render(_ table: [SettingKey], _ settings: Settings) -> [String] {
        table.map { key in
            let value = key.write(settings)
            return value.isEmpty ? "\(key.name) =" : "\(key.name) = \(value)"
        }
    }

    /// A value at `path`, read by `parse` and written by `format`.
    public static func value<Value>(
        _ name: String, _ path: WritableKeyPath<Settings, Value>,
        parse: @escaping (String) throws(SettingError) -> Value, format: @escaping (Value) -> String
    ) -> Self {
        SettingKey(
            name, read: { settings, text throws(SettingError) in settings[keyPath: path] = try parse(text) },
            write: { format($0[keyPath: path]) })
    }

    public static func integer(_ name: String, _ path: WritableKeyPath<Settings, Int>, in range: ClosedRange<Int>)
        -> Self
    {
        value(name, path, parse: { text throws(SettingError) in try SettingValue.integer(text, in: range) }) {
            String($0)
        }
    }

    public static func number(
        _ name: String, _ path: WritableKeyPath<Settings, Double>, in range: ClosedRange<Double>
    ) -> Self {
        value(
            name, path, parse: { text throws(SettingError) in try SettingValue.number(text, in: range) },
            format: SettingValue.format)
    }

    public static func duration(
        _ name: String, _ path: WritableKeyPath<Settings, Duration>, in range: ClosedRange<Duration>
    ) -> Self {
        value(name, path, parse: { text throws(SettingError) in try SettingValue.duration(text, in: range) }) {
            DurationText.format($0)
        }
    }

    /// A duration kept as seconds in a `Double` (what the pattern rules compare with timestamps).
    public static func seconds(
        _ name: String, _ path: WritableKeyPath<Settings, Double>, in range: ClosedRange<Duration>
    ) -> Self {
        value(
            name, path,
            parse: { text throws(SettingError) in
                let duration = try SettingValue.duration(text, in: range)
                return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            },
            format: { DurationText.format(.milliseconds(Int64(($0 * 1000).rounded()))) })
    }

    public static func bool(_ name: String, _ path: WritableKeyPath<Settings, Bool>) -> Self {
        value(name, path, parse: { text throws(SettingError) in try SettingValue.bool(text) }) { String($0) }
    }
}

/// Why a value cannot be used, saying what is expected ("expected an integer in 1...21"); the program
/// reading the file adds where.
public struct SettingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// The grammars every configuration shares: integers and numbers within bounds, durations
/// (`DurationText`), booleans, comma-separated lists.
public enum SettingValue {
    public static func integer(_ text: String, in range: ClosedRange<Int>) throws(SettingError) -> Int {
        guard let n = Int(text), range.contains(n) else {
            throw SettingError("expected an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    public static func number(_ text: String, in range: ClosedRange<Double>) throws(SettingError) -> Double {
        guard let n = Double(text), n.isFinite, range.contains(n) else {
            throw SettingError("expected a number in \(format(range.lowerBound))...\(format(range.upperBound))")
        }
        return n
    }

    public static func duration(_ text: String, in range: ClosedRange<Duration>) throws(SettingError) -> Duration {
        guard let duration = DurationText.parse(text, in: range) else {
            throw SettingError(DurationText.expected(range))
        }
        return duration
    }

    public static func bool(_ text: String) throws(SettingError) -> Bool {
        switch text {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw SettingError("expected true or false")
        }
    }

    /// `a, b, c` without empty items.
    public static func list(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0.trimmed(" \t")) }.filter { !$0.isEmpty }
    }

    /// A number as a configuration file writes it: `85`, not `85.0`.
    public static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
