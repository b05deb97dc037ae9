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
