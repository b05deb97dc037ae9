import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

/// `herdctl operators …`: more operators, each with keys made on their own machine.
///
/// 1. The new operator: `herdctl operators request --name NAME --controller URL --ca ca.pem` makes
///    their keys (0600) and a request file; they send the request file (public keys only).
/// 2. An existing operator: `herdctl operators add --request FILE` — the controller issues the
///    certificate, written to `NAME-certificate.pem`.
/// 3. The new operator: `herdctl operators install --certificate NAME-certificate.pem`.
struct OperatorsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operators",
        abstract: "Operators: list, request (new operator's machine), add (existing operator), install.",
        subcommands: [
            OperatorsList.self, OperatorsRequest.self, OperatorsAdd.self, OperatorsInstall.self,
            OperatorsTrustLine.self,
        ])
}

/// `herdctl operators trust-line`: this operator's line for hosts' trust files, from the local key.
struct OperatorsTrustLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust-line",
        abstract: "Print your line for a host's trust file (operator.NAME = public key), from your own key.",
        discussion: """
            Hosts trust operator keys listed in their own trust file (/etc/herd/trust.conf). Give this line             to whoever administers the hosts, over a channel that is not the controller, and compare the             key id they see with yours.
            """)
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let (name, signer) = try connection.signer()
        print("# key id \(signer.keyID.rawValue)")
        print("operator.\(name) = \(Base64.encode(signer.publicKey.rawRepresentation))")
    }
}

struct OperatorsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Every operator.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let operators = try await withClient(connection) {
            try await $0.call(.GET, "/v1/operators", as: OperatorAPI.Operators.self)
        }
        if connection.json { return try printJSON(operators) }
        print(
            Output.table(
                ["NAME", "SIGNING KEY", "CERTIFICATE", "STATE"],
                operators.operators.map {
                    [
                        $0.name, String($0.signingKeyId.prefix(16)), String($0.certificateFingerprint.prefix(16)),
                        $0.revoked ? "revoked" : "active",
                    ]
                }))
    }
}

struct OperatorsRequest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "request",
        abstract: "On the new operator's machine: make keys and a request to send to an operator.")
    @Option(help: "Your operator name (an identifier).") var name: String
    @Option(help: "The controller, https://HOST:PORT.") var controller: String
    @Option(help: "The fleet CA (ca.pem from an existing operator; compare its fingerprint out of band).") var ca:
        String
    @Option(help: "Where your identity goes (default: ~/.config/herdctl).") var dir: String?

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
            try SecureFile.write(Array(try OperatorAPI.encoder.encode(request)), to: file, mode: 0o644)
            print("keys made in \(directory) (private keys 0600, never sent)")
            print("send \(file) to an operator, who runs: herdctl operators add --request request.json")
            print("signing key \(KeyID(publicKey: identity.signingPublicKey).rawValue)")
        } catch let error as SecureFileError {
            throw HerdctlError(description: error.description, status: HerdctlExit.usage)
        }
    }
}

struct OperatorsAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Enrol the operator whose request file this is; writes NAME-certificate.pem to hand back.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The request file `herdctl operators request` made.") var request: String
    @Option(help: "Where to write the certificate (default: NAME-certificate.pem here).") var out: String?

    func run() async throws {
        let body: [UInt8]
        let asked: OperatorAPI.OperatorRequest
        do {
            body = try SecureFile.read(request, maxBytes: 64 << 10)
            asked = try OperatorAPI.decoder.decode(OperatorAPI.OperatorRequest.self, from: Data(body))
        } catch {
            throw HerdctlError(description: "\(request): not an operator request (\(error))", status: HerdctlExit.usage)
        }
        let added = try await withClient(connection) {
            try await $0.call(.POST, "/v1/operators", body: body, as: OperatorAPI.OperatorRow.self)
        }
        if connection.json { return try printJSON(added) }
        let file = out ?? "\(asked.name)-certificate.pem"
        do {
            try SecureFile.write(added.certificatePem ?? "", to: file, mode: 0o644, replace: false)
        } catch {
            throw HerdctlError(description: "\(error)", status: HerdctlExit.usage)
        }
        print("added operator \(added.name) (signing key \(added.signingKeyId.prefix(16))); give them \(file):")
        print("  herdctl operators install --certificate \(file)")
    }
}

struct OperatorsInstall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "On the new operator's machine: install the certificate an operator sent back.")
    @Option(help: "The certificate file.") var certificate: String
    @Option(help: "Your identity's directory (default: ~/.config/herdctl).") var dir: String?

    func run() async throws {
        let directory = dir ?? (ConnectionOptions.defaultConfig as NSString).deletingLastPathComponent
        do {
            let pem = try SecureFile.readText(certificate, maxBytes: Limits.maxPEMBytes)
            let keyPEM = try SecureFile.readText(directory + "/tls-key.pem", maxBytes: 16 << 10, private: true)
            guard let parsed = try? Certificate(pemEncoded: pem),
                let key = try? P256.Signing.PrivateKey(pemRepresentation: keyPEM),
                parsed.publicKey == Certificate.PublicKey(key.publicKey)
            else {
                throw HerdctlError(
                    description: "\(certificate) is not the certificate for the key in \(directory)",
                    status: HerdctlExit.usage)
            }
            try SecureFile.write(pem, to: directory + "/certificate.pem", mode: 0o644)
            print("installed; try: herdctl status")
        } catch let error as SecureFileError {
            throw HerdctlError(description: error.description, status: HerdctlExit.usage)
        }
    }
}
