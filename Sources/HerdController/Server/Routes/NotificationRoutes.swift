import Foundation
import HerdProtocol
import Hummingbird

/// Paging's own check (Controller/README.md, "Paging"): a test message through one route's receivers.
struct NotificationRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.post("/v1/notifications/test", use: test)
    }

    /// `POST /v1/notifications/test` `{route}`: sends a test message to every receiver of the route
    /// (`N` of `notify.route.N`, or `default`), waits for each, and says what each did; audited.
    func test(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let record = try context.requireOperator()
        let asked = try await request.operatorBody(OperatorAPI.NotificationTestRequest.self, expected: "{route}")
        let routing = controller.configuration.notify
        let names: [String]
        if asked.route == "default" {
            names = routing.defaultReceivers ?? (routing.routes.isEmpty ? routing.receivers.keys.sorted() : [])
        } else if let number = Int(asked.route), let route = routing.routes[number] {
            names = route.receivers
        } else {
            throw WireError(
                .notFound,
                "no route \(String(asked.route.prefix(64)).escapingControlCharacters): routes are \((routing.routes.keys.sorted().map(String.init) + ["default"]).joined(separator: ", "))"
            )
        }
        guard !names.isEmpty else { throw WireError(.invalidField, "route \(asked.route) has no receiver") }
        let now = controller.clock()
        let message = NotificationMessage.test(route: asked.route, by: record.name, at: now.timeIntervalSince1970)
        let client = NotificationService.makeClient()
        var outcomes: [OperatorAPI.NotificationTest.Outcome] = []
        for name in names {
            guard let receiver = routing.receivers[name] else { continue }
            let failure = await NotificationService.send(message, to: receiver, client: client, date: now)
            outcomes.append(
                .init(receiver: name, kind: receiver.kind.rawValue, delivered: failure == nil, error: failure))
        }
        try? await client.shutdown()
        try await controller.store.audit(
            at: now.timeIntervalSince1970, actor: record.name, action: "notifications.test",
            subject: "route:\(asked.route)",
            detail: outcomes.map { "\($0.receiver) \($0.delivered ? "delivered" : "failed")" }.joined(separator: ", "))
        return WireResponse.json(OperatorAPI.NotificationTest(route: asked.route, receivers: outcomes))
    }
}
