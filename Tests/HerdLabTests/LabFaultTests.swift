import Foundation
import HerdLab
import HerdTestSupport
import Testing

/// The lab's faults as documented: the README names each (and how many there are), and the cause each
/// expects is one the controller's documentation names, so `herd-lab evaluate` judges against causes
/// that exist.
@Suite struct LabFaultTests {
    static func text(_ path: String) throws -> String {
        try String(contentsOfFile: RepositoryPaths.path(path), encoding: .utf8)
    }

    @Test func theReadmeNamesEveryFault() throws {
        let readme = try Self.text("README.md")
        let section = try #require(readme.range(of: "## The lab"))
        let end = try #require(readme.range(of: "\n## ", range: section.upperBound..<readme.endIndex))
        let lab = readme[section.upperBound..<end.lowerBound]
        #expect(lab.contains("one of \(LabFault.allCases.count) playbook faults"))
        for fault in LabFault.allCases {
            #expect(lab.contains("`\(fault.rawValue)`"), "README's lab section does not name \(fault.rawValue)")
        }
    }

    @Test(arguments: LabFault.allCases)
    func eachExpectedCauseIsOneTheControllerNames(_ fault: LabFault) throws {
        let controller = try Self.text("Controller/README.md")
        #expect(
            controller.contains("`\(fault.expectedCause)`"), "Controller/README.md never names \(fault.expectedCause)")
        #expect(!fault.summary.isEmpty)
    }
}
