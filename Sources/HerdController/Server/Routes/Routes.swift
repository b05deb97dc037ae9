import Foundation
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
        // The operator API: one gate for every route of it.
        let operators = router.group().add(middleware: OperatorsOnly(controller: controller))
        InstanceRoutes.register(operators, controller)
        AgentRoutes.register(operators, controller)
        OperatorRoutes.register(operators, controller)
        IncidentRoutes.register(operators, controller)
        SilenceRoutes.register(operators, controller)
        RemediationRoutes.register(operators, controller)
        AuditRoutes.register(operators, controller)
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

    /// An operator request's body as `T`. A body that is not one is `malformed`, saying what was
    /// expected and where the decoder stopped ("ttl_seconds: expected a number"), never only that it
    /// failed.
    static func decode<T: Decodable>(_: T.Type, _ body: [UInt8], expected: String) throws(WireError) -> T {
        do {
            return try OperatorAPI.decoder.decode(T.self, from: Data(body))
        } catch {
            throw WireError(.malformed, "expected \(expected): \(Self.problem(error))".escapingControlCharacters)
        }
    }

    static func problem(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context)?: return path(context.codingPath + [key]) + ": missing"
        case .typeMismatch(let type, let context)?:
            return (context.codingPath.isEmpty ? "(root)" : path(context.codingPath)) + ": expected \(type)"
        case .valueNotFound(let type, let context)?:
            return (context.codingPath.isEmpty ? "(root)" : path(context.codingPath)) + ": null where \(type) goes"
        case .dataCorrupted(let context)?:
            return context.codingPath.isEmpty ? "not JSON" : path(context.codingPath) + ": invalid value"
        default: return "not JSON"
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
        do {
            context.caller = try await controller.requireOperator(context)
        } catch let error as WireError {
            controller.logger.warning(
                "operator API refused", metadata: ["code": "\(error.code)", "reason": "\(error.message)"])
            return WireResponse.error(error)
        } catch {
            controller.logger.error(
                "operator API failed", metadata: ["error": "\("\(error)".escapingControlCharacters)"])
            return WireResponse.error(WireError(.internalError, "the controller failed to handle this request"))
        }
        return try await next(request, context)
    }
}
