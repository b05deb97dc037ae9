#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The executables `swift build --build-tests` put in `.build/debug`, for tests that run them as an
/// operator would (argv, exit status, stdout and stderr).
public enum BuiltProduct {
    public static func path(_ name: String) throws -> String {
        let path = RepositoryPaths.path(".build/debug/\(name)")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw FixtureError("\(path) is missing: build with 'swift build --build-tests' (scripts/test.sh does)")
        }
        return path
    }
}
