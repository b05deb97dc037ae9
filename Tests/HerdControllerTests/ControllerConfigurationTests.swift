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
        ("metrics.listen = 9469", "x:1: metrics.listen: expected HOST:PORT"),
        ("metrics.tls = yes", "x:1: metrics.tls: expected off or mutual"),
        (
            "metrics.listen = 0.0.0.0:9469",
            "x: metrics.listen on 0.0.0.0 needs metrics.tls = mutual (plain HTTP only on loopback)"
        ),
    ])
    func badLinesAreRefusedWithTheirLine(text: String, message: String) {
        #expect(throws: ControllerConfigurationError(message)) {
            try ControllerConfiguration.parse(text, source: "x", dataDirectory: "/d")
        }
    }

    /// The metrics listener: off, or beyond loopback with mutual TLS; either reads back as written.
    @Test func theMetricsListenerIsOffOrLoopbackOrMutualTLS() throws {
        let off = try ControllerConfiguration.parse("metrics.listen = off", source: "x", dataDirectory: "/d")
        #expect(off.metricsHost == nil)
        #expect(off.render().contains("metrics.listen = off\n"))
        let wide = try ControllerConfiguration.parse(
            "metrics.listen = [::]:9470\nmetrics.tls = mutual", source: "x", dataDirectory: "/d")
        #expect(wide.metricsHost == "::" && wide.metricsPort == 9470 && wide.metricsMutualTLS)
        let again = try ControllerConfiguration.parse(wide.render(), source: "x", dataDirectory: "/d")
        #expect(again == wide)
    }
}
