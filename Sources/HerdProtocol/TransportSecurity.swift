/// How the fleet's own connections are secured (agent ↔ controller, herdctl ↔ controller): TLS 1.2
/// or newer, and under TLS 1.2 only AEAD cipher suites with forward secrecy. The fleet CA issues
/// P-256 keys, so only ECDSA suites can ever be chosen. TLS 1.3's suites are all AEAD and are not
/// configurable here. Protocol/README.md §1 says the same.
public enum TransportSecurity {
    /// OpenSSL names, in order of preference.
    public static let tls12CipherSuites = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305",
    ].joined(separator: ":")
}
