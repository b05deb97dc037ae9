import ArgumentParser
import Foundation
import HerdProtocol
import Hummingbird
import Logging
import ServiceLifecycle

/// `herd-controller serve`: the HTTPS server and retention, until SIGTERM or SIGINT — then in-flight
/// requests finish, the writer drains and the database closes cleanly.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the controller (HTTPS with mutual TLS) on the data directory made by init.")

    @Option(help: "The controller's data directory.")
    var dataDir: String

    @Option(help: "Override the listen port from controller.conf (0: any free port, printed at start).")
    var port: Int?

    @Option(
        help: ArgumentHelp(
            "Override metrics.listen's port from controller.conf (0: any free port, printed at start).",
            discussion: "The metrics listener serves /metrics, /health and /ready; metrics.listen = off disables it."))
    var metricsPort: Int?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level \(logLevel)")
        }
        var configuration: ControllerConfiguration
        do {
            configuration = try ControllerConfiguration.load(dataDirectory: dataDir)
        } catch {
            throw ValidationError(error.description)
        }
        if let port {
            guard (0...65535).contains(port) else { throw ValidationError("--port must be 0 to 65535") }
            configuration.listenPort = port
        }
        if let metricsPort {
            guard (0...65535).contains(metricsPort) else { throw ValidationError("--metrics-port must be 0 to 65535") }
            guard configuration.metricsHost != nil else {
                throw ValidationError("--metrics-port: metrics.listen is off in controller.conf")
            }
            configuration.metricsPort = metricsPort
        }
        var logger = Logger(label: "herd-controller")
        logger.logLevel = level
        let (controller, tls) = try ControllerServer.load(configuration, logger: logger)
        controller.store.enterElection()
        let host = configuration.listenHost
        let app = try ControllerServer.application(
            controller, tls: tls, host: host, port: configuration.listenPort,
            services: [
                RetentionService(controller: controller), NotificationService(controller: controller),
                LivenessService(controller: controller), ReplicaService(controller: controller),
            ]
        ) { port in
            // One line scripts and tests wait for (stdout is a pipe there: write it unbuffered).
            let line = Array("herd-controller listening on \(host):\(port)\n".utf8)
            _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        }
        var services: [any Service] = [app]
        if let metricsHost = configuration.metricsHost {
            services.append(
                try MetricsServer.application(
                    controller, tls: configuration.metricsMutualTLS ? MetricsServer.mutualTLS(tls) : nil,
                    host: metricsHost, port: configuration.metricsPort
                ) { port in
                    let line = Array("herd-controller metrics on \(metricsHost):\(port)\n".utf8)
                    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
                })
        }
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try controller.store.close()
        logger.notice("stopped cleanly")
    }
}
