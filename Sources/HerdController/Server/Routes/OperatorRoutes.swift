import Foundation
import HerdProtocol
import Hummingbird

/// `GET /v1/operators` and `POST /v1/operators`: who may use the operator API (and, with the
/// remediation milestone, whose signatures count). Adding one issues a certificate for the TLS key in
/// their CSR and records their Ed25519 public key; their private keys stay on their machine.
struct OperatorRoutes {
    let controller: Controller

    func register(_ router: some RouterMethods<HerdRequestContext>) {
        router.get("/v1/operators", use: list)
        router.post("/v1/operators", use: add)
    }

    /// `GET /v1/operators`
    func list(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let records = try await controller.store.operators()
        return WireResponse.json(OperatorAPI.Operators(operators: records.map { Self.row($0, certificate: nil) }))
    }

    /// `POST /v1/operators`
    func add(_ request: Request, context: HerdRequestContext) async throws -> Response {
        let by = try context.requireOperator()
        let asked = try await request.operatorBody(
            OperatorAPI.OperatorRequest.self, expected: "{name, signing_public_key, csr_pem}")
        guard Rule.isIdentifier(asked.name) else {
            throw WireError(.invalidField, "name must be an identifier")
        }
        guard asked.csrPem.utf8.count <= Limits.maxPEMBytes,
            let key = SigningKeyPEM.decodePublic(asked.signingPublicKey)
        else { throw WireError(.invalidField, "signing_public_key must be an Ed25519 public key in PEM") }
        let certificate = try Controller.issueClient(
            controller.ca, csrPEM: asked.csrPem, commonName: "herd-operator:\(asked.name)")
        let record = try await controller.store.addOperator(
            name: asked.name, signingKey: key, certificate: certificate)
        controller.logger.notice("operator added", metadata: ["operator": "\(asked.name)", "by": "\(by.name)"])
        return WireResponse.json(Self.row(record, certificate: certificate.pem))
    }

    static func row(_ record: OperatorRecord, certificate: String?) -> OperatorAPI.OperatorRow {
        OperatorAPI.OperatorRow(
            name: record.name, signingKeyId: record.signingKeyID.rawValue,
            certificateFingerprint: record.certificateFingerprint, createdAt: record.createdAt.instant,
            revoked: record.revokedAt != nil, certificatePem: certificate)
    }
}
