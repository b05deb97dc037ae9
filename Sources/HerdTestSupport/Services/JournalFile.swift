import Foundation

/// A real journal file built with systemd's own tools: entries are written in the journal export
/// format and converted by `systemd-journal-remote`, then read back with `journalctl --directory`.
public enum JournalFile {
    public static var remote: String? {
        ["/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// One entry: fields in order; a value that is not valid UTF-8 or holds a newline is written in the
    /// export format's binary form.
    public typealias Entry = [(String, [UInt8])]

    /// Builds `directory/system.journal` (appending if it exists) from `entries`, timestamps from
    /// `firstMicroseconds` one millisecond apart.
    public static func build(
        _ entries: [Entry], in directory: String, firstMicroseconds: UInt64 = 1_745_291_454_000_000
    )
        throws
    {
        guard let remote else {
            throw FixtureError("systemd-journal-remote is not installed (scripts/test.sh installs it)")
        }
        var export: [UInt8] = []
        for (index, entry) in entries.enumerated() {
            let time = firstMicroseconds + UInt64(index) * 1000
            let fields: Entry =
                [
                    ("__REALTIME_TIMESTAMP", Array(String(time).utf8)),
                    ("__MONOTONIC_TIMESTAMP", Array(String(1000 + index).utf8)),
                    ("_BOOT_ID", Array("0123456789abcdef0123456789abcdef".utf8)),
                    ("_HOSTNAME", Array("mastodon-test".utf8)),
                ] + entry
            for (name, value) in fields {
                export += Array(name.utf8)
                if String(validating: value, as: UTF8.self) != nil && !value.contains(0x0A) {
                    export += [UInt8(ascii: "=")] + value + [0x0A]
                } else {
                    export.append(0x0A)
                    withUnsafeBytes(of: UInt64(value.count).littleEndian) { export += $0 }
                    export += value + [0x0A]
                }
            }
            export.append(0x0A)
        }
        let exportPath = directory + "/entries.export"
        guard FileManager.default.createFile(atPath: exportPath, contents: Data(export)) else {
            throw FixtureError("cannot write \(exportPath)")
        }
        defer { try? FileManager.default.removeItem(atPath: exportPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: remote)
        process.arguments = ["--output=\(directory)/system.journal", exportPath]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw FixtureError("systemd-journal-remote failed: \(message)")
        }
    }

    public static func entry(unit: String, identifier: String, pid: Int, message: String) -> Entry {
        [
            ("_SYSTEMD_UNIT", Array(unit.utf8)), ("SYSLOG_IDENTIFIER", Array(identifier.utf8)),
            ("_PID", Array(String(pid).utf8)), ("PRIORITY", Array("6".utf8)), ("MESSAGE", Array(message.utf8)),
        ]
    }
}
