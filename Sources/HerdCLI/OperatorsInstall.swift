import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

struct OperatorsInstall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "On the new operator's machine: install the certificate an operator sent back.")
    @Option(help: "The certificate file.") var certificate: String
    @Option(help: "Your identity's directory (default: ~/.config/herdctl).") var dir: String?
    @Flag(help: "Print JSON {directory, certificate_file, fingerprint, not_after} instead of text.") var json = false

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
            if json {
                return try printJSON([
                    "directory": directory, "certificate_file": directory + "/certificate.pem",
                    "fingerprint": Self.fingerprint(pem),
                    "not_after": WireTime.format(parsed.notValidAfter),
                ])
            }
            emit("installed; try: herdctl status")
        } catch let error as SecureFileError {
            throw HerdctlError(description: error.description, status: HerdctlExit.usage)
        }
    }

    /// SHA-256 of the (first) certificate's DER, as `herdctl operators list` shows it.
    static func fingerprint(_ pem: String) -> String {
        let lines = pem.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let body = lines.drop { !$0.hasPrefix("-----BEGIN") }.dropFirst().prefix { !$0.hasPrefix("-----END") }.joined()
        return Hex.lowercase(SHA256.hash(data: Data(base64Encoded: body) ?? Data()))
    }
}
