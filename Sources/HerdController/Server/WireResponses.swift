import Foundation
import HTTPTypes
import HerdProtocol
import Hummingbird

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
        guard let bytes = try? OperatorAPI.encoder.encode(value) else {
            return error(WireError(.internalError, "the controller could not encode its answer"))
        }
        return Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: [UInt8](bytes))))
    }
}

/// Every answer is JSON (Protocol §7), also what the router itself refuses: a path no route serves, or
/// a method its route does not take, is `not_found` (404).
struct WireErrorMiddleware: RouterMiddleware {
    typealias Context = HerdRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let status = error.status.code
            let wire: WireError =
                switch status {
                case 404: WireError(.notFound, "no endpoint \(request.method) \(request.uri.path)")
                case 413: WireError(.tooLarge, "the body is larger than this endpoint takes")
                case 500...: WireError(.internalError, "the controller failed to handle this request")
                default: WireError(.malformed, "\(status) \(error.status.reasonPhrase)")
                }
            return WireResponse.error(wire)
        }
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
