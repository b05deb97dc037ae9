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
