import Crypto
import Foundation
import HerdProtocol
import Hummingbird

/// `POST /v1/enroll`: the one endpoint without a client certificate. The envelope is signed by the
/// new key the request carries (proof of possession), so the payload is read for that key and then the
/// signature checked over the exact bytes before anything else is believed.
struct EnrollRoute {
    let controller: Controller

    func register(_ router: Router<HerdRequestContext>) {
        router.post("/v1/enroll", use: enroll)
    }

    /// `POST /v1/enroll`
    func enroll(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let bytes = try await request.envelopeBytes()
        let envelope = try WireCoding.decode(SignedEnvelope.self, from: bytes)
        guard envelope.payloadType == .enrollRequest else {
            throw WireError(.unsupportedVersion, "payloadType '\(envelope.payloadType)' is not an enrollment")
        }
        let candidate = try WireCoding.decode(EnrollRequest.self, from: envelope.payload)
        guard let raw = Base64.decode(candidate.signingPublicKey),
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
        else { throw WireError(.invalidField, "signing_public_key is not an Ed25519 public key") }
        try EnvelopeVerifier.verify(envelope, as: .enrollRequest, signedBy: key)
        let now = controller.clock()
        _ = try ReplayPolicy(maxClockSkew: controller.configuration.maxClockSkew).check(
            sequence: 1, sentAt: candidate.sentAt, lastAccepted: nil, now: now)
        // Before the token is looked at: a CSR this CA would never sign is refused now, not
        // after a pending agent has spent its token and blocked its instance.
        do throws(PKIError) {
            _ = try FleetCA.checkCSR(candidate.csrPEM)
        } catch {
            throw WireError(.invalidField, "csr_pem: \(error.description)")
        }
        let agent = try await controller.store.enroll(
            candidate, signingKey: key, now: now.timeIntervalSince1970,
            issue: controller.issue(candidate.csrPEM))
        controller.logger.notice(
            "enrollment",
            metadata: ["agent": "\(agent.id)", "instance": "\(agent.instance)", "state": "\(agent.state)"])
        return WireResponse.message(
            EnrollResponse(
                agentID: agent.id, state: agent.state == .accepted ? .accepted : .pending,
                certificatePEM: agent.state == .accepted ? agent.certificatePEM : nil,
                caCertificatePEM: controller.ca.certificatePEM, signingKeyID: agent.signingKeyID,
                serverTime: now))
    }
}
