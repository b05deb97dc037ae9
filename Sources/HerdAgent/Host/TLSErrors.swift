import NIOSSL

/// TLS failures as the checks report them. Under TLS 1.3 a refused or unverifiable certificate can
/// surface as `BoringSSLError` (or inside `NIOSSLError.handshakeFailed`) on the first read or write
/// rather than at connect, so every client asks here instead of matching one error type.
enum TLSErrors {
    static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }

    /// BoringSSL's reason (`CERTIFICATE_VERIFY_FAILED` → "certificate verify failed") without the error
    /// codes and build paths its descriptions carry.
    static func reason(_ error: any Error) -> String {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "certificate does not match the host name"
        }
        let text = "\(error)"
        if let range = text.firstRange(of: "OPENSSL_internal:") {
            let reason = text[range.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            if !reason.isEmpty { return reason.lowercased().split(separator: "_").joined(separator: " ") }
        }
        return String(text.prefix(200))
    }
}
