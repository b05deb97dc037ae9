import ArgumentParser
import Foundation
import HerdProtocol

struct AgentsToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "A one-time, expiring enrollment token for an instance.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The instance's domain.") var instance: String
    @Option(help: "How long the token is valid: 30m, 1h, 2d (1 minute to 7 days).") var ttl = "1h"
    @Flag(inversion: .prefixedNo, help: "Accept the agent at once (default: the controller's enrollment.auto_accept).")
    var autoAccept: Bool?

    func validate() throws {
        guard Rule.isInstanceName(instance) else { throw ValidationError("--instance must be a lowercase DNS name") }
        _ = try Self.ttlSeconds(ttl)
    }

    static func ttlSeconds(_ text: String) throws -> Int {
        Int(try seconds(of: text, "--ttl", in: .seconds(60)...(.seconds(604_800))))
    }

    func run() async throws {
        let request = OperatorAPI.TokenRequest(
            instance: instance, ttlSeconds: try Self.ttlSeconds(ttl), autoAccept: autoAccept)
        let body = try JSONCodable.encode(request)
        let (token, controller) = try await withClient(connection) {
            (try await $0.call(.POST, "/v1/tokens", body: body, as: OperatorAPI.Token.self), $0.base)
        }
        if connection.json { return try printJSON(token) }
        emit("token for \(token.instance), valid \(ttl)\(token.autoAccept ? "" : ", needs herdctl agents accept"):")
        emit(token.token)
        emit("on the host:")
        emit(
            "  herd-agent enroll --controller \(controller) --token \(token.token) --ca-fingerprint \(token.caFingerprint)"
        )
    }
}
