import Foundation
import HTTPTypes
import HerdProtocol
import Hummingbird
import Logging

/// Responses in the protocol's encoding: a message with 200, an `ErrorResponse` with its code's status.
enum WireResponse {
    static let jsonHeaders: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]

    static func message<M: WireMessage>(_ message: M) -> Response {
        Response(
            status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: WireCoding.encode(message))))
    }

    static func error(_ error: WireError) -> Response {
        Response(
            status: .init(code: error.code.httpStatus), headers: jsonHeaders,
            body: .init(byteBuffer: ByteBuffer(bytes: WireCoding.encode(ErrorResponse(error: error)))))
    }

    static func json<T: Encodable>(_ value: T) -> Response {
        guard let bytes = try? JSONCodable.encode(value) else {
            return error(WireError(.internalError, "the controller could not encode its answer"))
        }
        return Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// The one place errors become answers, and every answer is JSON (Protocol §7): a `WireError` is the
/// caller's problem (its status, logged at warning with its reason); what the router itself refuses —
/// a path no route serves, or a method its route does not take — is `not_found` (404), a body past its
/// limit `too_large`; anything else is ours (500 `internal`, logged at error, its details kept out of
/// the answer).
struct WireErrorMiddleware: RouterMiddleware {
    typealias Context = HerdRequestContext
    let logger: Logger
    let metrics: ControllerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as WireError {
            logger.warning(
                "request refused",
                metadata: [
                    "route": "\(route(request, context))", "code": "\(error.code)", "reason": "\(error.message)",
                ])
            return refuse(error)
        } catch let error as SQLError where error.kind == .connection {
            // The store is down or out of reach (PostgreSQL restarting, the network): the caller retries.
            logger.error(
                "store unreachable",
                metadata: [
                    "route": "\(route(request, context))", "error": "\(error.description.escapingControlCharacters)",
                ])
            return refuse(WireError(.unavailable, "the controller's store is unreachable; retry later"))
        } catch let error as HTTPError {
            let status = error.status.code
            let wire: WireError =
                switch status {
                case 404: WireError(.notFound, "no endpoint \(request.method) \(request.uri.path)")
                case 413: WireError(.tooLarge, "the body is larger than this endpoint takes")
                case 500...: WireError(.internalError, "the controller failed to handle this request")
                default: WireError(.malformed, "\(status) \(error.status.reasonPhrase)")
                }
            return refuse(wire)
        } catch {
            logger.error(
                "request failed",
                metadata: ["route": "\(route(request, context))", "error": "\("\(error)".escapingControlCharacters)"])
            return refuse(WireError(.internalError, "the controller failed to handle this request"))
        }
    }

    /// The answer to a refused request, counted by its code (`herd_refusals_total`).
    private func refuse(_ error: WireError) -> Response {
        metrics.refused(error.code)
        return WireResponse.error(error)
    }

    /// The route's pattern (`/v1/incidents/:id`), not the path asked for: bounded, and nothing of the
    /// caller's in the log.
    private func route(_ request: Request, _ context: Context) -> String {
        "\(request.method) \(context.endpointPath ?? "(no route)")"
    }
}

extension Request {
    /// The whole body, at most the protocol's envelope limit; `too_large` beyond it.
    func envelopeBytes() async throws(WireError) -> [UInt8] {
        do {
            let buffer = try await body.collect(upTo: Limits.maxEnvelopeBytes)
            return Array(buffer.readableBytesView)
        } catch {
            throw WireError(.tooLarge, "body exceeds the limit of \(Limits.maxEnvelopeBytes) bytes")
        }
    }
}
