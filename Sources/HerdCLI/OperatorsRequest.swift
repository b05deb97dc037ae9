import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

struct OperatorsRequest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "On the new operator's machine: make keys and a request to send to an operator.")
    @Option(help: "Your operator name (an identifier).") var name: String
    @Option(help: "The controller, https://HOST:PORT.") var controller: String
    @Option(help: "The fleet CA (ca.pem from an existing operator; compare its fingerprint out of band).") var ca:
        String
    @Option(help: "Where your identity goes (default: ~/.config/herdctl).") var dir: String?
    @Flag(help: "Print JSON {name, directory, request_file, signing_key_id} instead of text.") var json = false

    func validate() throws {
        guard Rule.isIdentifier(name) else { throw ValidationError("--name must be an identifier (a-z, 0-9, . _ -)") }
        guard controller.hasPrefix("https://") else { throw ValidationError("--controller must be an https:// URL") }
    }

    func run() async throws {
        let directory = dir ?? (ConnectionOptions.defaultConfig as NSString).deletingLastPathComponent
        do {
            let caPEM = try SecureFile.readText(ca, maxBytes: Limits.maxPEMBytes)
            guard (try? Certificate(pemEncoded: caPEM)) != nil else {
                throw ValidationError("\(ca) is not a PEM certificate")
            }
            let identity = try OperatorIdentity.create(
                in: directory, name: name, controller: controller, caCertificatePEM: caPEM)
            let csr = try CertificateSigningRequest(
                version: .v1, subject: try DistinguishedName { CommonName(name) }, privateKey: .init(identity.tlsKey),
                attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
            let request = OperatorAPI.OperatorRequest(
                name: name, signingPublicKey: SigningKeyPEM.encode(identity.signingPublicKey),
                csrPem: try csr.serializeAsPEM().pemString)
            let file = directory + "/request.json"
            try SecureFile.write(try JSONCodable.encode(request), to: file, mode: 0o644)
            let keyID = KeyID(publicKey: identity.signingPublicKey).rawValue
            if json {
                return try printJSON([
                    "name": name, "directory": directory, "request_file": file, "signing_key_id": keyID,
                ])
            }
            emit("keys made in \(directory) (private keys 0600, never sent)")
            emit("send \(file) to an operator, who runs: herdctl operators add --request request.json")
            emit("signing key \(keyID)")
        } catch let error as SecureFileError {
            throw HerdctlError(description: error.description, status: HerdctlExit.usage)
        }
    }
}
