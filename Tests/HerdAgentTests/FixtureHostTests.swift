import Foundation
import HerdAgent
import HerdProtocol
import HerdTestSupport
import Testing

/// Every fixture host, run through the whole registry once and compared with its golden results.
/// `HERD_UPDATE_GOLDEN=1 swift test --filter FixtureHostTests` rewrites them (review the diff).
@Suite struct FixtureHostTests {
    @Test(arguments: FixtureHost.scenarios())
    func scenarioMatchesItsGoldenResults(_ scenario: String) async throws {
        let host = try FixtureHost(scenario)
        defer { host.remove() }
        let results = try await host.runner().runCycle()
        for result in results { try result.validate() }
        if let difference = try Golden.compare(host.golden(results), toFile: "\(host.directory)/expected.json") {
            Issue.record("\(scenario): \(difference)")
        }
    }
}
