import Foundation
import HerdProtocol
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import NIOSSL

/// The listener for monitoring, apart from the agents' and operators' port: `GET /metrics` (Prometheus'
/// text format), `GET /health` (the process serves) and `GET /ready` (and its store answers). Plain HTTP
/// on loopback by default; with `metrics.tls = mutual` it takes TLS with a client certificate from the
/// fleet CA, and `/metrics` — the fleet's instance names and states — an operator's.
enum MetricsServer {
    /// How long `/ready` waits for the store before it answers 503.
    static let readyTimeout = Duration.seconds(2)

    static func application(
        _ controller: Controller, tls: TLSConfiguration?, host: String, port: Int,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let router = Router(context: HerdRequestContext.self)
        router.add(middleware: WireErrorMiddleware(logger: controller.logger, metrics: controller.metrics))
        router.get("/health") { _, _ in
            WireResponse.json(Health(status: "ok", version: HerdVersion.current))
        }
        router.get("/ready") { _, _ in
            await ready(controller)
        }
        router.get("/metrics") { _, context in
            if tls != nil { _ = try await controller.requireOperator(context) }
            let bytes = await controller.metrics.exposition(controller)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        let http = HTTP1Channel.Configuration(idleTimeout: .seconds(90))
        let server: HTTPServerBuilder =
            if let tls {
                try .tls(.http1(configuration: http), tlsConfiguration: tls)
            } else {
                .http1(configuration: http)
            }
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "herd-controller"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: controller.logger)
    }

    /// The server's TLS with client certificates required (`metrics.tls = mutual`).
    static func mutualTLS(_ serverTLS: TLSConfiguration) -> TLSConfiguration {
        var tls = serverTLS
        tls.certificateVerification = .noHostnameVerification
        return tls
    }

    struct Health: Encodable {
        var status: String
        var version: String
    }

    struct Readiness: Encodable {
        var status: String
        var store: String
        var leader: Bool
        var reason: String?
    }

    /// 200 when the store answers a read within `readyTimeout`, else 503 saying why.
    static func ready(_ controller: Controller) async -> Response {
        let store = controller.store
        let reason: String?
        do {
            let answered = try await withDeadline(readyTimeout) {
                try await store.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
            }
            reason = answered == nil ? "the store did not answer within \(readyTimeout)" : nil
        } catch {
            reason = "the store does not answer: \("\(error)".escapingControlCharacters)"
        }
        let answer = Readiness(
            status: reason == nil ? "ready" : "unavailable", store: store.dialect.rawValue, leader: store.isLeader,
            reason: reason)
        var response = WireResponse.json(answer)
        if reason != nil { response.status = .serviceUnavailable }
        return response
    }
}
