import Crypto
import FoundationEssentials

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it: no channel binding
/// (`n,,`), the user name empty in the SCRAM messages (the server takes it from the startup message),
/// and the server's signature verified, so a server that does not know the password cannot pass for
/// one that does. The password is used as its UTF-8 bytes, without SASLprep (as postgres-nio and
/// libpq do for ASCII passwords; PostgreSQL itself falls back to the raw bytes).
struct SCRAMClient {
    /// PostgreSQL's default is 4096 (`scram_iterations`); a server asking for more than this is
    /// refused rather than allowed to spend the agent's CPU.
    static let maxIterations = 1_000_000

    private let password: [UInt8]
    private let user: String
    private let clientNonce: String
    private var expectedServerSignature: [UInt8]?

    /// `user` and `nonce` are for tests against RFC 7677's example; PostgreSQL ignores the SCRAM user
    /// name, and the nonce is 18 random bytes.
    init(password: String, user: String = "", nonce: String? = nil) {
        self.password = Array(password.utf8)
        self.user = user
        clientNonce =
            nonce
            ?? Data((0..<18).map { _ in UInt8.random(in: .min ... .max) }).base64EncodedString()
    }

    private var clientFirstBare: String { "n=\(user),r=\(clientNonce)" }
    /// SASLInitialResponse's data.
    var clientFirst: String { "n,," + clientFirstBare }

    /// The client's final message for the server's first (`r=…,s=…,i=…`), remembering the signature the
    /// server must answer with.
    mutating func clientFinal(serverFirst: String) throws(PostgresWireError) -> String {
        var attributes: [Character: Substring] = [:]
        for part in serverFirst.split(separator: ",") where part.count >= 2 && part.dropFirst().first == "=" {
            attributes[part.first!] = part.dropFirst(2)
        }
        guard let nonce = attributes["r"], nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw .protocolViolation("SCRAM: the server's nonce does not extend ours")
        }
        guard let saltText = attributes["s"], let salt = Data(base64Encoded: String(saltText)), !salt.isEmpty else {
            throw .protocolViolation("SCRAM: no salt")
        }
        guard let iterationText = attributes["i"], let iterations = Int(iterationText),
            (1...Self.maxIterations).contains(iterations)
        else { throw .protocolViolation("SCRAM: iteration count out of range 1…\(Self.maxIterations)") }

        let salted = Self.saltedPassword(password, salt: Array(salt), iterations: iterations)
        let clientKey = Self.hmac(salted, "Client Key".utf8)
        let storedKey = Array(SHA256.hash(data: clientKey))
        let withoutProof = "c=biws,r=\(nonce)"  // biws: base64 of the gs2 header "n,,"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(withoutProof)".utf8)
        let clientSignature = Self.hmac(storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        expectedServerSignature = Self.hmac(Self.hmac(salted, "Server Key".utf8), authMessage)
        return "\(withoutProof),p=\(Data(proof).base64EncodedString())"
    }

    /// Checks the server's final message (`v=signature`).
    func verify(serverFinal: String) throws(PostgresWireError) {
        if serverFinal.hasPrefix("e=") {
            throw .server(sqlState: "28P01", message: "SCRAM: \(serverFinal.dropFirst(2).prefix(100))")
        }
        guard let expected = expectedServerSignature, serverFinal.hasPrefix("v="),
            let signature = Data(base64Encoded: String(serverFinal.dropFirst(2).prefix { $0 != "," })),
            Array(signature) == expected
        else { throw .protocolViolation("SCRAM: the server's signature is wrong; it does not know the password") }
    }

    /// Hi() of RFC 5802: PBKDF2 with HMAC-SHA-256, one block. The keyed HMAC state is made once and
    /// copied per iteration (a copy of the value carries its state), not re-keyed 4096 times.
    static func saltedPassword(_ password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        let keyed = HMAC<SHA256>(key: SymmetricKey(data: password))
        func mac(_ data: [UInt8]) -> [UInt8] {
            var copy = keyed
            copy.update(data: data)
            return Array(copy.finalize())
        }
        var block = mac(salt + [0, 0, 0, 1])
        var result = block
        for _ in 1..<iterations {
            block = mac(block)
            for i in result.indices { result[i] ^= block[i] }
        }
        return result
    }

    private static func hmac(_ key: [UInt8], _ data: some Sequence<UInt8>) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(data), using: SymmetricKey(data: key)))
    }
}
