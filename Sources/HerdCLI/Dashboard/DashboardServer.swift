import Crypto
import Foundation
import HTTPTypes
import HerdProtocol
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// `herdctl dashboard`'s web server: on 127.0.0.1 only, for the browser of the operator who started
/// it. It opens no way in that herdctl does not already have: it talks to the controller with this
/// operator's own mutual-TLS identity, and an approval is signed here, with this operator's key, from
/// the command's own bytes — exactly as `herdctl remediate approve` does.
///
/// Who may use it: the browser that opens the one-time URL herdctl printed (`/login?token=…`, 256 random
/// bits, usable once) gets a session cookie (HttpOnly, SameSite=Strict); every other request without it
/// is refused. Requests must name this server in `Host` (no DNS rebinding); a POST must come from this
/// origin and carry its session's form token. Pages are server-rendered HTML and SVG under a
/// Content-Security-Policy that allows nothing from elsewhere and no script.
final class DashboardServer: Sendable {
    struct Context: Sendable {
        var operatorName: String
        var controller: String
    }

    let client: OperatorClient
    let connection: ConnectionOptions
    let context: Context
    let signer: MessageSigner
    private let token: Mutex<String?>
    /// Session id → its form token.
    private let sessions = Mutex<[String: String]>([:])
    private let port = Mutex(0)

    init(connection: ConnectionOptions) throws {
        self.connection = connection
        client = try connection.client()
        let (name, signer) = try connection.signer()
        self.signer = signer
        context = Context(operatorName: name, controller: try connection.settings()["controller"] ?? "?")
        token = Mutex(Self.random())
    }

    static func random() -> String {
        Hex.lowercase(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The URL to open, once the server listens.
    var loginURL: String {
        "http://127.0.0.1:\(port.withLock { $0 })/login?token=\(token.withLock { $0 ?? "" })"
    }

    func application(port requested: Int, onRunning: @escaping @Sendable (Int) async -> Void)
        -> some ApplicationProtocol
    {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: Gate(server: self))
        router.get("/login") { request, _ in self.login(request) }
        router.get("/assets/herd.css") { _, _ in
            Response(
                status: .ok, headers: Self.headers("text/css; charset=utf-8"),
                body: .init(byteBuffer: ByteBuffer(string: HTML.stylesheet)))
        }
        let pages = DashboardPages(server: self)
        router.get("/") { request, _ in try await self.render { try await pages.fleet(request) } }
        router.get("/instances/:domain") { request, context in
            let domain = try context.parameters.require("domain")
            return try await self.render { try await pages.instance(domain, request) }
        }
        router.get("/incidents") { request, _ in try await self.render { try await pages.incidents(request) } }
        router.get("/incidents/:id") { _, context in
            let id = try context.parameters.require("id", as: Int64.self)
            return try await self.render { try await pages.incident(id) }
        }
        router.get("/remediations") { _, _ in try await self.render { try await pages.remediations() } }
        router.get("/remediations/:id") { request, context in
            let id = try context.parameters.require("id")
            return try await self.render { try await pages.remediation(id, request) }
        }
        router.post("/remediations/:id/approve") { request, context in
            let id = try context.parameters.require("id")
            let form = Self.form(try await request.body.collect(upTo: 16 << 10))
            guard let session = Self.cookie(request), self.formToken(session) == form["csrf"], form["csrf"] != nil
            else { return Self.refusal(.forbidden, "this form did not come from this dashboard") }
            do {
                let (status, text) = try await pages.approve(id, sha256: form["sha256"] ?? "")
                guard status == .seeOther else {
                    return Response(
                        status: status, headers: Self.headers("text/html; charset=utf-8"),
                        body: .init(byteBuffer: ByteBuffer(string: text)))
                }
                var headers = Self.headers("text/html; charset=utf-8")
                headers[.location] = text
                return Response(status: .seeOther, headers: headers)
            } catch let error as HerdctlError {
                return Self.refusal(.badGateway, error.description)
            }
        }
        router.get("/audit") { _, _ in try await self.render { try await pages.audit() } }
        return Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: requested), serverName: "herdctl-dashboard"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? requested
                self.port.withLock { $0 = bound }
                await onRunning(bound)
            },
            logger: {
                var logger = Logger(label: "herdctl-dashboard")
                logger.logLevel = .warning
                return logger
            }())
    }

    /// `/login?token=…`: the one-time token for a session cookie, then the fleet.
    private func login(_ request: Request) -> Response {
        let offered = request.uri.queryParameters.get("token") ?? ""
        let accepted = token.withLock { token -> Bool in
            guard let expected = token, Self.equal(expected, offered) else { return false }
            token = nil
            return true
        }
        guard accepted else {
            return Self.refusal(
                .forbidden, "this login link was used already or is wrong: start herdctl dashboard again")
        }
        let session = Self.random()
        sessions.withLock { $0[session] = Self.random() }
        var headers = Self.headers("text/html; charset=utf-8")
        headers[.location] = "/"
        headers[.setCookie] = "herd_session=\(session); Path=/; HttpOnly; SameSite=Strict"
        return Response(status: .seeOther, headers: headers)
    }

    func hasSession(_ request: Request) -> Bool {
        guard let session = Self.cookie(request) else { return false }
        return sessions.withLock { $0[session] != nil }
    }

    func formToken(_ session: String) -> String? { sessions.withLock { $0[session] } }

    func formToken(for request: Request) -> String { Self.cookie(request).flatMap(formToken) ?? "" }

    var origin: String { "http://127.0.0.1:\(port.withLock { $0 })" }

    /// A page, or the controller's refusal as a page saying why.
    private func render(_ body: () async throws -> (HTTPResponse.Status, String)) async throws -> Response {
        do {
            let (status, html) = try await body()
            return Response(
                status: status, headers: Self.headers("text/html; charset=utf-8"),
                body: .init(byteBuffer: ByteBuffer(string: html)))
        } catch let error as HerdctlError {
            return Self.refusal(.badGateway, error.description)
        }
    }

    static func refusal(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let html =
            "<!doctype html><title>Herd</title><link rel=\"stylesheet\" href=\"/assets/herd.css\">"
            + "<main><div class=\"problem\">\(HTML.escape(message))</div></main>"
        return Response(
            status: status, headers: headers("text/html; charset=utf-8"),
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func headers(_ type: String) -> HTTPFields {
        [
            .contentType: type, .cacheControl: "no-store",
            HTTPField.Name("Content-Security-Policy")!:
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin",
        ]
    }

    static func cookie(_ request: Request) -> String? {
        for part in (request.headers[.cookie] ?? "").split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0] == "herd_session" { return String(pair[1]) }
        }
        return nil
    }

    /// `application/x-www-form-urlencoded`.
    static func form(_ buffer: ByteBuffer) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return fields
    }

    /// Compares in time independent of where the strings differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Every request: `Host` must name this server; every path but the login needs the session; a POST
    /// must come from this origin.
    struct Gate: RouterMiddleware {
        typealias Context = BasicRequestContext
        let server: DashboardServer

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
            async throws -> Response
        {
            let host = request.head.authority ?? ""
            guard "http://" + host == server.origin else {
                return DashboardServer.refusal(.forbidden, "this dashboard answers only at \(server.origin)")
            }
            if request.uri.path != "/login" {
                guard server.hasSession(request) else {
                    return DashboardServer.refusal(
                        .forbidden, "no session: open the login URL herdctl dashboard printed")
                }
            }
            if request.method == .post {
                guard request.headers[.origin] == server.origin else {
                    return DashboardServer.refusal(.forbidden, "a form from another origin")
                }
            }
            return try await next(request, context)
        }
    }
}
