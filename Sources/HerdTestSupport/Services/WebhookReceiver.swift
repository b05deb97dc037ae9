import Foundation

/// A webhook endpoint on loopback that records every delivery and answers each with the next status
/// of its script (then 200): what a chat or paging service looks like to the controller's notifier.
public final class WebhookReceiver: @unchecked Sendable {
    public struct Delivery: Sendable {
        public var method = "POST"
        public var path: String
        public var authorization: String?
        public var idempotencyKey: String?
        public var body: [UInt8]
        public var status: Int
        public var receivedAt = Date()
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    private var server: LoopbackServer!
    private let lock = NSLock()
    private var script: [Int]
    private var _deliveries: [Delivery] = []

    public var port: Int { server.port }
    public var url: String { "http://127.0.0.1:\(port)/hook" }

    /// `failFirst`: statuses for the first deliveries (e.g. `[503, 503]`), 200 afterwards.
    public init(failFirst: [Int] = []) throws {
        script = failFirst
        server = try LoopbackServer { [weak self] connection in self?.serve(connection) }
    }

    public var deliveries: [Delivery] { lock.withLock { _deliveries } }

    /// The deliveries that were answered with a 2xx.
    public var accepted: [Delivery] { deliveries.filter { (200..<300).contains($0.status) } }

    public func stop() { server.stop() }

    private func serve(_ connection: LoopbackServer.Connection) {
        guard let request = MastodonStandIn.read(connection) else { return }
        let status = lock.withLock { () -> Int in
            let status = script.isEmpty ? 200 : script.removeFirst()
            _deliveries.append(
                Delivery(
                    method: request.method, path: request.path, authorization: request.headers["authorization"],
                    idempotencyKey: request.headers["idempotency-key"], body: request.body, status: status))
            return status
        }
        let body = Array(#"{"ok":true}"#.utf8)
        connection.send(MastodonStandIn.head(status, "application/json", length: body.count, extra: []) + body)
        connection.shutdown()
    }
}
