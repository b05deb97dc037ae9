import Foundation

/// A real SMTP server, aiosmtpd (`Tests/HerdControllerTests/Fixtures/smtp-server.py`), on a free
/// loopback port with a certificate for `localhost` from a test CA, STARTTLS and AUTH required, the
/// user `herd` with password `s3cret`; messages land in `maildir`.
public final class SMTPServer: @unchecked Sendable {
    public let port: Int
    public let caPEM: String
    public let maildir: String
    private let process = Process()
    private let input = Pipe()

    public init(in directory: TemporaryDirectory) throws {
        port = try FreePort.next()
        let ca = try TestCertificateAuthority()
        caPEM = try ca.certificatePEM
        let (certificate, key) = try ca.issue(
            names: ["localhost"], notBefore: Date().addingTimeInterval(-3600),
            notAfter: Date().addingTimeInterval(86_400))
        try directory.write("smtp-cert.pem", certificate)
        try directory.write("smtp-key.pem", key)
        maildir = directory.file("maildir")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            ProcessInfo.processInfo.environment["HERD_PYTHON"] ?? "python3",
            RepositoryPaths.path("Tests/HerdControllerTests/Fixtures/smtp-server.py"), "\(port)",
            directory.file("smtp-cert.pem"), directory.file("smtp-key.pem"), maildir, "herd", "s3cret",
        ]
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = output.fileHandleForReading.availableData
        guard String(decoding: line, as: UTF8.self).contains("ready") else {
            throw FixtureError("aiosmtpd did not start: install it (scripts/test.sh does, from PyPI)")
        }
    }

    /// Every message received: its headers (unfolded) and its body, base64 decoded.
    public var messages: [(headers: [String: String], body: String)] {
        let folder = maildir + "/new"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
        return names.compactMap { name in
            guard let text = try? String(contentsOfFile: folder + "/" + name, encoding: .utf8),
                let split = text.range(of: "\n\n")
            else { return nil }
            var headers: [String: String] = [:]
            var unfolded: [String] = []
            for line in text[..<split.lowerBound].split(separator: "\n") {
                if line.first == " " || line.first == "\t", !unfolded.isEmpty {
                    unfolded[unfolded.count - 1] += " " + line.trimmingCharacters(in: .whitespaces)
                } else {
                    unfolded.append(String(line))
                }
            }
            for line in unfolded {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = Self.decodedWords(
                    line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            let encoded = text[split.upperBound...].filter { !$0.isWhitespace }
            let body = Data(base64Encoded: String(encoded)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            return (headers, body)
        }
    }

    /// RFC 2047 `=?utf-8?B?…?=` words decoded (the space between two words dropped), as a mail
    /// reader shows the header.
    static func decodedWords(_ value: String) -> String {
        let words = value.split(separator: " ")
        guard words.allSatisfy({ $0.hasPrefix("=?utf-8?B?") && $0.hasSuffix("?=") }) else { return value }
        return words.map { word in
            let encoded = word.dropFirst("=?utf-8?B?".count).dropLast(2)
            return Data(base64Encoded: String(encoded)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }.joined()
    }

    public func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
