#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Where the repository's non-Swift material lives, found from this source file so tests run from any
/// working directory.
public enum RepositoryPaths {
    public static let root: String = {
        var path = #filePath
        for _ in 0..<3 {  // …/Sources/HerdTestSupport/RepositoryPaths.swift → repository root
            path = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        }
        return path
    }()

    public static func path(_ relative: String) -> String { root + "/" + relative }

    /// The files directly inside a repository folder whose names end with `suffix`, sorted.
    public static func files(in relative: String, suffix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path(relative))
            .filter { $0.hasSuffix(suffix) }
            .sorted()
            .map { path(relative) + "/" + $0 }
    }

    public static func read(_ absolutePath: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: absolutePath) else {
            throw FixtureError("cannot read \(absolutePath)")
        }
        return Array(data)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
