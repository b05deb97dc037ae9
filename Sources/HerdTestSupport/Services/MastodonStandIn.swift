import Foundation

/// A stand-in for puma and the streaming server, speaking HTTP/1.1 on loopback with Mastodon's real
/// answer shapes (Mastodon itself cannot run here): `/health` and `/api/v1/streaming/health` as plain
/// `OK`, `/api/v1/instance`, `verify_credentials` with Doorkeeper's 401 and `require_user!`'s 403s,
/// `POST /api/v1/statuses` honouring `Idempotency-Key`, `DELETE /api/v1/statuses/:id`, media's 202/206,
/// and Rack::Attack-style `X-RateLimit-*` headers with 429s whose reset is ISO 8601. Faults are set per
/// route: any status and body, a hang, a 10 MB body, a body dribbled forever, a dropped connection.
/// Every request is recorded for the test to inspect. One request per connection (`Connection: close`).
public final class MastodonStandIn: @unchecked Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// Lower-cased names.
        public var headers: [String: String]
        public var body: [UInt8]
    }

    public enum Fault: Sendable {
        case respond(status: Int, contentType: String, body: String)
        /// Read the request, answer nothing, keep the connection open.
        case hang
        /// A 200 announcing and sending `bytes` of body.
        case huge(bytes: Int)
        /// Headers, then one body byte every 200 ms, forever.
        case dribble
        /// Close without answering.
        case drop
        /// Do the work (a post is created), then answer as nginx does when puma was too slow: the client
        /// sees 504 HTML and cannot know the post exists.
        case loseAnswer

        /// Rails' answer to an unhandled exception.
        public static let rails500 = Fault.respond(
            status: 500, contentType: "application/json; charset=utf-8",
            body: #"{"status":500,"error":"Internal Server Error"}"#)
        public static let temporary503 = Fault.respond(
            status: 503, contentType: "application/json; charset=utf-8",
            body: #"{"error":"There was a temporary problem serving your request, please try again"}"#)
    }

    public enum AccountState: Sendable {
        case active, disabled, unconfirmed, pendingApproval
    }

    public let token: String
    private let server: LoopbackServer
    public var port: Int { server.port }
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    private let lock = NSLock()
    private var _requests: [Request] = []
    private var faults: [String: Fault] = [:]
    private var account = AccountState.active
    private var scopes: Set<String> = ["read", "write"]
    private var nextStatusID = 109_000_000_000_000_000
    private var statuses: Set<String> = []
    private var idempotency: [String: String] = [:]
    /// Rate limits: per family, requests allowed per window.
    private var limits: [String: Int] = ["api": 300, "statuses": 300]
    private var used: [String: Int] = [:]
    private var windowStart = Date()
    public var rateLimitPeriod: TimeInterval = 300

    public init(token: String = "canary-token-\(UUID().uuidString)") throws {
        self.token = token
        let box = WeakBox()
        server = try LoopbackServer { connection in box.value?.serve(connection) }
        box.value = self
    }

    public func stop() { server.stop() }

    public var requests: [Request] {
        lock.lock()
        defer { lock.unlock() }
        return _requests
    }

    /// Makes `"METHOD /path"` (or `"/path"` for any method) misbehave; nil restores it.
    public func setFault(_ route: String, _ fault: Fault?) {
        lock.lock()
        faults[route] = fault
        lock.unlock()
    }

    public func setAccount(_ state: AccountState, scopes: Set<String> = ["read", "write"]) {
        lock.lock()
        account = state
        self.scopes = scopes
        lock.unlock()
    }

    public func setRateLimit(_ family: String, limit: Int) {
        lock.lock()
        limits[family] = limit
        used[family] = 0
        windowStart = Date()
        lock.unlock()
    }

    /// Statuses that exist (posted and not deleted).
    public var liveStatuses: Set<String> {
        lock.lock()
        defer { lock.unlock() }
        return statuses
    }

    // MARK: Serving

    private struct Response {
        var status: Int
        var contentType = "application/json; charset=utf-8"
        var headers: [(String, String)] = []
        var body: String
    }

    private func serve(_ connection: LoopbackServer.Connection) {
        guard let request = Self.read(connection) else { return }
        lock.lock()
        _requests.append(request)
        let fault = faults["\(request.method) \(request.path)"] ?? faults[request.path]
        lock.unlock()
        switch fault {
        case .hang?:
            connection.drain()
            return
        case .drop?:
            connection.shutdown()
            return
        case .huge(let bytes)?:
            guard connection.send(Self.head(200, "application/json", length: bytes, extra: [])) else { return }
            let chunk = [UInt8](repeating: UInt8(ascii: " "), count: 64 << 10)
            var sent = 0
            while sent < bytes, !connection.isStopped {
                let n = min(chunk.count, bytes - sent)
                guard connection.send(Array(chunk[..<n])) else { return }
                sent += n
            }
            return
        case .dribble?:
            guard connection.send(Self.head(200, "application/json", length: 1 << 20, extra: [])) else { return }
            while !connection.isStopped, connection.send([UInt8(ascii: " ")]) { usleep(200_000) }
            return
        case .loseAnswer?:
            _ = route(request)
            respond(connection, Response(status: 504, contentType: "text/html", body: NginxServer.mastodonErrorPage))
        case .respond(let status, let contentType, let body)?:
            respond(connection, Response(status: status, contentType: contentType, body: body))
        case nil:
            respond(connection, route(request))
        }
    }

    private func respond(_ connection: LoopbackServer.Connection, _ response: Response) {
        let body = Array(response.body.utf8)
        connection.send(
            Self.head(response.status, response.contentType, length: body.count, extra: response.headers) + body)
        connection.shutdown()
    }

    static func head(_ status: Int, _ contentType: String, length: Int, extra: [(String, String)]) -> [UInt8] {
        var head =
            "HTTP/1.1 \(status) \(reason(status))\r\nContent-Type: \(contentType)\r\nContent-Length: \(length)\r\nConnection: close\r\n"
        for (name, value) in extra { head += "\(name): \(value)\r\n" }
        return Array((head + "\r\n").utf8)
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 206: "Partial Content"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }

    /// One request: head up to 64 KiB, body by Content-Length up to 1 MiB.
    static func read(_ connection: LoopbackServer.Connection) -> Request? {
        var data: [UInt8] = []
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            let chunk = connection.receive()
            if chunk.isEmpty || data.count > 64 << 10 { return nil }
            data += chunk
            if data.count >= 4 {
                headEnd = (0...(data.count - 4)).first { Array(data[$0..<$0 + 4]) == separator }
            }
        }
        let head = String(decoding: data[..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Array(data[(headEnd! + 4)...])
        let length = min(Int(headers["content-length"] ?? "0") ?? 0, 1 << 20)
        while body.count < length {
            let chunk = connection.receive()
            if chunk.isEmpty { return nil }
            body += chunk
        }
        return Request(
            method: String(requestLine[0]), path: String(requestLine[1]), headers: headers,
            body: Array(body.prefix(length)))
    }

    // MARK: Mastodon's routes

    private func route(_ request: Request) -> Response {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.path
        switch (request.method, path) {
        case ("GET", "/health"), ("GET", "/api/v1/streaming/health"):
            return Response(status: 200, contentType: "text/plain; charset=utf-8", body: "OK")
        case ("GET", "/api/v1/instance"):
            return Response(
                status: 200,
                body:
                    #"{"uri":"social.test","title":"Social Test","version":"4.3.2","urls":{"streaming_api":"wss://social.test"}}"#
            )
        default: break
        }
        guard path.hasPrefix("/api/") else { return notFound() }
        // Doorkeeper, then Rack::Attack, then require_user!, then the action.
        guard request.headers["authorization"] == "Bearer \(token)" else {
            return Response(status: 401, body: #"{"error":"The access token is invalid"}"#)
        }
        let family = request.method == "POST" && path == "/api/v1/statuses" ? "statuses" : "api"
        lock.lock()
        defer { lock.unlock() }
        if Date().timeIntervalSince(windowStart) >= rateLimitPeriod {
            windowStart = Date()
            used = [:]
        }
        used[family, default: 0] += 1
        let limit = limits[family] ?? 300
        let remaining = max(0, limit - used[family]!)
        let reset = Self.iso8601(windowStart.addingTimeInterval(rateLimitPeriod))
        let rateHeaders = [
            ("X-RateLimit-Limit", String(limit)), ("X-RateLimit-Remaining", String(remaining)),
            ("X-RateLimit-Reset", reset),
        ]
        if used[family]! > limit {
            return Response(status: 429, headers: rateHeaders, body: #"{"error":"Too many requests"}"#)
        }
        func answer(_ status: Int, _ body: String) -> Response {
            Response(status: status, headers: rateHeaders, body: body)
        }
        switch account {
        case .disabled: return answer(403, #"{"error":"Your login is currently disabled"}"#)
        case .unconfirmed: return answer(403, #"{"error":"Your login is missing a confirmed e-mail address"}"#)
        case .pendingApproval: return answer(403, #"{"error":"Your login is currently pending approval"}"#)
        case .active: break
        }
        let needsWrite = request.method != "GET"
        if needsWrite, !scopes.contains("write") {
            return answer(403, #"{"error":"This action is outside the authorized scopes"}"#)
        }
        switch (request.method, path) {
        case ("GET", "/api/v1/accounts/verify_credentials"):
            return answer(200, #"{"id":"1","username":"canary","acct":"canary","locked":false,"bot":true}"#)
        case ("POST", "/api/v1/statuses"):
            let text = String(decoding: request.body, as: UTF8.self)
            guard text.contains("\"status\"") else {
                return answer(422, #"{"error":"Validation failed: Text can't be blank"}"#)
            }
            let key = request.headers["idempotency-key"]
            let id: String
            if let key, let seen = idempotency[key] {
                id = seen
            } else {
                nextStatusID += 1
                id = String(nextStatusID)
                statuses.insert(id)
                if let key { idempotency[key] = id }
            }
            return answer(200, #"{"id":"\#(id)","visibility":"direct","content":"<p>probe</p>"}"#)
        case ("POST", "/api/v2/media"):
            return answer(202, #"{"id":"2","type":"image","url":null}"#)
        case ("GET", "/api/v1/media/2"):
            return answer(206, #"{"id":"2","type":"image","url":null}"#)
        default:
            if request.method == "DELETE", path.hasPrefix("/api/v1/statuses/") {
                let id = String(path.dropFirst("/api/v1/statuses/".count))
                guard statuses.remove(id) != nil else { return answer(404, #"{"error":"Record not found"}"#) }
                return answer(200, #"{"id":"\#(id)","text":"probe"}"#)
            }
            return answer(404, #"{"error":"Record not found"}"#)
        }
    }

    private func notFound() -> Response {
        Response(
            status: 404, contentType: "text/html; charset=utf-8",
            body: "<html><body>The page you are looking for isn't here.</body></html>")
    }

    /// Rails' `iso8601(6)`: `2026-11-22T01:05:00.000000Z`.
    static func iso8601(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'"
        return formatter.string(from: date)
    }

    private final class WeakBox: @unchecked Sendable {
        weak var value: MastodonStandIn?
    }
}
