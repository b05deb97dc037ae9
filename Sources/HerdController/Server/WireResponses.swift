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
        let bytes = (try? OperatorAPI.encoder.encode(value)).map { [UInt8]($0) } ?? []
        return Response(status: .ok, headers: jsonHeaders, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
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
