import HerdProtocol
import Hummingbird

/// Every route, and the one place errors become answers: a `WireError` is the caller's problem (4xx,
/// logged with its reason), anything else is ours (500 `internal`, logged, its details kept out of the
/// answer). Nothing is stored on any error path.
enum Routes {
    static func router(_ controller: Controller) -> Router<HerdRequestContext> {
        let router = Router(context: HerdRequestContext.self)
        router.add(middleware: WireErrorMiddleware())
        EnrollRoute.register(router, controller)
        ReportsRoute.register(router, controller)
        OperatorRoutes.register(router, controller)
        OperatorsRoute.register(router, controller)
        IncidentRoutes.register(router, controller)
        RemediationRoutes.register(router, controller)
        CommandRoutes.register(router, controller)
        return router
    }

    static func answer(_ controller: Controller, _ what: String, _ body: () async throws -> Response) async
        -> Response
    {
        do {
            return try await body()
        } catch let error as WireError {
            controller.logger.warning(
                "\(what) refused", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
            return WireResponse.error(error)
        } catch {
            controller.logger.error("\(what) failed", metadata: ["error": "\("\(error)".escapingControlCharacters)"])
            return WireResponse.error(WireError(.internalError, "the controller failed to handle this request"))
        }
    }
}
