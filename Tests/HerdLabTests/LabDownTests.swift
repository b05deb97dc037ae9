import Foundation
import HerdTestSupport
import Testing

/// `herd-lab down` stops what is the lab's, not what merely names its directory: a script run with
/// `--dir DIR` (the quickstart) calls it, and used to be killed by it.
@Suite struct LabDownTests {
    @Test func aCallerThatNamesTheDirectorySurvivesDown() throws {
        let parent = try TemporaryDirectory("herd-lab-down")
        defer { parent.remove() }
        let dir = parent.file("lab")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // sh's own command line ends with the directory, as `quickstart.sh --dir DIR`'s does.
        let (status, output) = try runExecutable(
            "/bin/sh",
            ["-c", "\"$0\" down --dir \"$1\" >/dev/null; echo survived", try BuiltProduct.path("herd-lab"), dir])
        #expect(status == 0 && output.contains("survived"), "\(output)")
        #expect(!FileManager.default.fileExists(atPath: dir))
    }
}
