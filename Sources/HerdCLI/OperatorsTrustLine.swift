import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

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
        let publicKey = Base64.encode(signer.publicKey.rawRepresentation)
        if connection.json {
            return try printJSON([
                "operator": name, "key_id": signer.keyID.rawValue, "public_key": publicKey,
                "line": "operator.\(name) = \(publicKey)",
            ])
        }
        emit("# key id \(signer.keyID.rawValue)")
        emit("operator.\(name) = \(publicKey)")
    }
}
