import Foundation
import HerdProtocol
import Hummingbird

/// Every route: one type per resource, its handlers as methods that throw; `WireErrorMiddleware` is the
/// one place errors become answers. Nothing is stored on any error path.
enum Routes {
    static func router(_ controller: Controller) -> Router<HerdRequestContext> {
        let router = Router(context: HerdRequestContext.self)
        router.add(middleware: WireErrorMiddleware(logger: controller.logger, metrics: controller.metrics))
        EnrollRoute(controller: controller).register(router)
        ReportsRoute(controller: controller).register(router)
        CommandRoutes(controller: controller).register(router)
        // The operator API: one gate for every route of it.
        let operators = router.group().add(middleware: OperatorsOnly(controller: controller))
        InstanceRoutes(controller: controller).register(operators)
        AgentRoutes(controller: controller).register(operators)
        OperatorRoutes(controller: controller).register(operators)
        IncidentRoutes(controller: controller).register(operators)
        SilenceRoutes(controller: controller).register(operators)
        RemediationRoutes(controller: controller).register(operators)
        AuditRoutes(controller: controller).register(operators)
        NotificationRoutes(controller: controller).register(operators)
        return router
    }
}

extension Request {
    /// An operator request's body (at most the envelope limit) as `T`. A body that is not one is
    /// `malformed`, saying what was expected and where the decoder stopped ("ttl_seconds: expected a
    /// number"), never only that it failed.
    func operatorBody<T: Decodable>(_: T.Type, expected: String) async throws(WireError) -> T {
        let body = try await envelopeBytes()
        do {
            return try JSONCodable.decode(T.self, from: Data(body))
        } catch {
            throw WireError(.malformed, "expected \(expected): \(error.message)")
        }
    }
}

/// The operator API's gate: the caller's certificate must be an operator's — an agent's gets
/// `forbidden` — before any handler runs or any body is read; the operator goes into the context.
struct OperatorsOnly: RouterMiddleware {
    typealias Context = HerdRequestContext
    let controller: Controller

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var context = context
        context.caller = try await controller.requireOperator(context)
        return try await next(request, context)
    }
}
