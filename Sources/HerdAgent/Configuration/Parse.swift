import HerdProtocol

/// The agent's own value grammars (the shared ones are `SettingValue`'s).
enum Parse {
    static func percent(_ value: String) throws(SettingError) -> Double {
        try SettingValue.number(value.hasSuffix("%") ? String(value.dropLast()) : value, in: 0...100)
    }

    /// A list of `NAME=VALUE` items, each read by `item`; `shape` is the error of an item without `=`.
    static func pairs<T>(
        _ text: String, _ shape: String, _ item: (String, String) throws(SettingError) -> T
    ) throws(SettingError) -> [T] {
        try SettingValue.list(text).map { entry throws(SettingError) in
            let parts = entry.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw SettingError(shape) }
            return try item(String(parts[0]), String(parts[1]))
        }
    }

    static func absolutePath(_ value: String) throws(SettingError) -> String {
        guard value.hasPrefix("/"), value.utf8.count <= 4096, !value.utf8.contains(where: { $0 < 0x20 }) else {
            throw SettingError("expected an absolute path")
        }
        return value
    }

    /// A user, unit or check name: no spaces, no control characters, no leading '-'.
    static func word(_ value: String) throws(SettingError) -> String {
        guard !value.isEmpty, value.utf8.count <= 256, value.first != "-",
            value.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F && $0 != 0x2C })
        else { throw SettingError("expected a name without spaces") }
        return value
    }

    static func unit(_ value: String) throws(SettingError) -> String {
        let name = try word(value)
        guard name.hasSuffix(".service") else { throw SettingError("unit names end in .service") }
        return name
    }

    static func url(_ value: String) throws(SettingError) -> BaseURL {
        guard let url = BaseURL(value) else {
            throw SettingError("expected http(s)://host[:port] without a path")
        }
        return url
    }

    static func urlSetting(_ value: String) throws(SettingError) -> URLSetting {
        switch value {
        case "auto": return .auto
        case "off": return .off
        default: return .url(try url(value))
        }
    }

    /// A host name or an IP address, nothing else.
    static func host(_ value: String) throws(SettingError) -> String {
        guard !value.isEmpty, value.utf8.count <= 253, value.first != "-",
            value.allSatisfy({ ($0.isASCII && ($0.isLetter || $0.isNumber)) || "-.:".contains($0) })
        else { throw SettingError("expected a host name or an IP address") }
        return value
    }

    /// `65536`, `512KiB`, `16MiB`, `1GiB`.
    static func size(_ value: String, in range: ClosedRange<Int>) throws(SettingError) -> Int {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("", 1)]
        for (suffix, factor) in units where value.hasSuffix(suffix) {
            if let n = Int(value.dropLast(suffix.count)), n >= 0, n <= Int.max / factor, range.contains(n * factor) {
                return n * factor
            }
            break
        }
        throw SettingError("expected a size such as 16MiB, between \(range.lowerBound) and \(range.upperBound) bytes")
    }
}

/// `auto` (derived from `.env.production`), `off`, or a URL.
public enum URLSetting: Sendable, Hashable {
    case auto, off
    case url(BaseURL)

    var rendered: String {
        switch self {
        case .auto: "auto"
        case .off: "off"
        case .url(let url): url.description
        }
    }
}

public enum URLListSetting: Sendable, Hashable {
    case auto, off
    case urls([BaseURL])

    var rendered: String {
        switch self {
        case .auto: "auto"
        case .off: "off"
        case .urls(let urls): urls.map(\.description).joined(separator: ", ")
        }
    }
}
