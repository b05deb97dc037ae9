import Foundation
import HerdProtocol
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The controller's HTTPS server: TLS 1.2+ only, the fleet CA pinned for client certificates, which are
/// optional at the TLS level (enrollment has none) and required by every route but `/v1/enroll`.
public enum ControllerServer {
    public static func tlsConfiguration(certificatePEM: String, keyPEM: String, caCertificatePEM: String) throws
        -> TLSConfiguration
    {
        // The chain ends with the fleet CA, so that an enrolling agent can find the CA it pins by
        // fingerprint among what the server presents.
        let certificates =
            try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
            + NIOSSLCertificate.fromPEMBytes(Array(caCertificatePEM.utf8))
        let chain = certificates.map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        tls.cipherSuites = TransportSecurity.tls12CipherSuites
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(caCertificatePEM.utf8)))
        // A presented certificate must chain to the fleet CA; none at all is allowed (enrollment).
        tls.certificateVerification = .optionalVerification
        return tls
    }

    /// The application; `onRunning` hears the bound port (tests listen on port 0).
    public static func application(
        _ controller: Controller, tls: TLSConfiguration, host: String, port: Int,
        services: [any Service] = [], onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let configuration = controller.configuration
        let counts = ConnectionGuard.Counts()
        let logger = controller.logger
        let http = HTTP1Channel.Configuration(
            additionalChannelHandlers: [
                ConnectionGuard(
                    counts: counts, maxPerAddress: configuration.maxConnectionsPerAddress,
                    requestTimeout: .nanoseconds(
                        Int64(configuration.requestTimeout.components.seconds) * 1_000_000_000),
                    logger: logger)
            ],
            idleTimeout: .seconds(configuration.idleTimeout.components.seconds))
        return Application(
            router: Routes.router(controller),
            server: try .tls(.http1(configuration: http), tlsConfiguration: tls),
            configuration: .init(address: .hostname(host, port: port), serverName: "herd-controller"),
            services: services,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: controller.logger)
    }

    /// Loads everything `init` made in `configuration.dataDirectory`.
    public static func load(_ configuration: ControllerConfiguration, logger: Logger) throws -> (
        Controller, TLSConfiguration
    ) {
        let caPEM = try SecureFile.readText(configuration.caCertificateFile)
        let ca = try FleetCA(
            certificatePEM: caPEM, keyPEM: try SecureFile.readText(configuration.caKeyFile, private: true))
        let tls = try tlsConfiguration(
            certificatePEM: try SecureFile.readText(configuration.serverCertificateFile),
            keyPEM: try SecureFile.readText(configuration.serverKeyFile, private: true), caCertificatePEM: caPEM)
        let store = try Store(location: configuration.storeLocation)
        return (Controller(configuration: configuration, store: store, ca: ca, logger: logger), tls)
    }
}

/// Retention as a service, on the leader: a pass a minute after start (or after taking the lead), then
/// hourly; stops at graceful shutdown.
struct RetentionService: Service {
    let controller: Controller

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var delay = Duration.seconds(60)
            while !Task.isCancelled {
                try? await Task.sleep(for: delay)
                if Task.isCancelled { return }
                guard controller.store.isLeader else {
                    delay = .seconds(60)
                    continue
                }
                delay = .seconds(3600)
                do {
                    let pass = try await controller.store.retain(
                        now: controller.clock().timeIntervalSince1970,
                        rawDays: controller.configuration.rawRetentionDays,
                        rollupDays: controller.configuration.rollupRetentionDays)
                    controller.logger.info(
                        "retention pass",
                        metadata: [
                            "hours_rolled_up": "\(pass.hoursRolledUp)", "reports_pruned": "\(pass.reportsPruned)",
                            "rollups_pruned": "\(pass.rollupsPruned)",
                        ])
                } catch {
                    controller.logger.error("retention pass failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// Silent agents, on the leader: every 5 s, an agent that has missed `silence.intervals` of its intervals opens an
/// incident on its instance (the agent's next report resolves it); stops at graceful shutdown.
struct LivenessService: Service {
    let controller: Controller

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                if Task.isCancelled { return }
                guard controller.store.isLeader else { continue }
                do {
                    let silent = try await controller.store.openSilentAgentIncidents(
                        now: controller.clock().timeIntervalSince1970,
                        intervals: controller.configuration.silenceIntervals,
                        patterns: controller.configuration.patternEngine)
                    for instance in silent {
                        controller.logger.warning(
                            "agent silent: incident opened", metadata: ["instance": "\(instance)"])
                    }
                } catch {
                    controller.logger.error("silent-agent sweep failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// This replica among the others on one PostgreSQL database: a round of the leader election every
/// `electionInterval` (the leader confirms it still holds the lock; the others try to take it), and the
/// other replicas' events (approvals, thaws, revocations) delivered here. With SQLite the process is the
/// only one and leads from its first round. Gives up the lead at graceful shutdown.
struct ReplicaService: Service {
    let controller: Controller
    var electionInterval: Duration = .seconds(2)

    func run() async throws {
        let store = controller.store
        let logger = controller.logger
        let holder = "\(ProcessInfo.processInfo.hostName) pid \(getpid())"
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await store.followReplicas(logger: logger) }
                group.addTask {
                    var led: Int64?
                    while !Task.isCancelled {
                        let epoch: Int64?
                        do {
                            epoch = try await store.campaign(holder: holder)
                        } catch {
                            epoch = nil
                            logger.warning("leader election: no answer from the store", metadata: ["error": "\(error)"])
                        }
                        if epoch != led {
                            if let epoch {
                                logger.notice("leading the replicas", metadata: ["epoch": "\(epoch)"])
                            } else {
                                logger.notice("another replica leads")
                            }
                            led = epoch
                        }
                        try? await Task.sleep(for: electionInterval)
                    }
                }
                await group.waitForAll()
            }
        }
        await store.resign()
    }
}
