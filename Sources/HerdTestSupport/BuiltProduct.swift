import Foundation

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

    /// Runs the built executable `name` to its end: its exit status and its output (stdout and stderr).
    public static func run(_ name: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (
        status: Int32, output: String
    ) {
        try runExecutable(try path(name), arguments, environment: environment)
    }

    /// `run` on a thread of its own: for async tests whose child talks to a server in the test's own
    /// process, which needs the cooperative threads a blocking wait would hold.
    public static func runOffThread(_ name: String, _ arguments: [String], environment: [String: String]? = nil)
        async throws -> (status: Int32, output: String)
    {
        try await offThread { try run(name, arguments, environment: environment) }
    }
}

/// Runs an executable to its end (argv, no shell; standard input the file `input`, else empty): its
/// exit status and its combined output. `environment` is added to the test's own.
public func runExecutable(
    _ path: String, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil
) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    if let input {
        guard let file = FileHandle(forReadingAtPath: input) else { throw FixtureError("cannot read \(input)") }
        process.standardInput = file
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
