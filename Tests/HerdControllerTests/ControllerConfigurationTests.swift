import HerdController
import HerdTestSupport
import Testing

@Suite struct ControllerConfigurationTests {
    @Test func theExampleIsTheDefaultsAndNamesEveryKey() throws {
        let text = try String(
            contentsOfFile: RepositoryPaths.path("Controller/controller.conf.example"), encoding: .utf8)
        let parsed = try ControllerConfiguration.parse(text, source: "example", dataDirectory: "/d")
        #expect(parsed == ControllerConfiguration(dataDirectory: "/d"))
        // Its settings are exactly what the key table renders for the defaults, in the table's order.
        let difference = try Golden.compareSettings(
            ControllerConfiguration(dataDirectory: "/d").render(), toExample: "Controller/controller.conf.example")
        #expect(difference == nil, "\(difference ?? "")")
    }

    @Test(arguments: [
        ("listen = 8443", "x:1: listen: expected HOST:PORT"),
        ("retention.raw_days = 0", "x:1: retention.raw_days: expected an integer in 1...3650"),
        ("colour = blue", "x:1: unknown key colour"), ("listen = a:1\nlisten = b:2", "x:2: listen is set twice"),
    ])
    func badLinesAreRefusedWithTheirLine(text: String, message: String) {
        #expect(throws: ControllerConfigurationError(message)) {
            try ControllerConfiguration.parse(text, source: "x", dataDirectory: "/d")
        }
    }
}
