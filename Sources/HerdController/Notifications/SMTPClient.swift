import Foundation
import HerdProtocol
import NIOCore
import NIOPosix
import NIOSSL

/// Why an SMTP exchange failed: the step and what the server said (its reply, control characters
/// escaped), never the password.
struct SMTPError: Error, CustomStringConvertible {
    var description: String
}

/// Sends one message through an SMTP server (RFC 5321): EHLO, STARTTLS (RFC 3207) and EHLO again, AUTH
/// PLAIN when a user is configured (only over TLS), MAIL FROM, RCPT TO each, DATA with the message
/// dot-stuffed, QUIT. Bounded: each reply line at most 4 KiB and a reply at most 100 lines; the caller
/// puts a deadline on the whole exchange.
enum SMTPClient {
    struct Server: Sendable {
        var host: String
        var port: Int
        var startTLS: Bool
        /// PEM of the CAs to trust for the server's certificate; nil: the system's.
        var trustPEM: String?
        var credentials: (user: String, password: String)?
    }

    static func send(_ message: [UInt8], from: String, to: [String], via server: Server) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: server.host, port: server.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let nioChannel = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            var replies = Replies(inbound.makeAsyncIterator())
            func command(_ line: String, expect codes: Set<Int>, step: String, shown: String? = nil) async throws
                -> [String]
            {
                try await outbound.write(ByteBuffer(string: line + "\r\n"))
                return try await replies.next(expect: codes, step: shown ?? step)
            }
            _ = try await replies.next(expect: [220], step: "greeting")
            var capabilities = try await command("EHLO herd-controller", expect: [250], step: "EHLO")
            if server.startTLS {
                guard capabilities.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                    throw SMTPError(description: "the server does not offer STARTTLS, which is required")
                }
                _ = try await command("STARTTLS", expect: [220], step: "STARTTLS")
                var tls = TLSConfiguration.makeClientConfiguration()
                tls.minimumTLSVersion = .tlsv12
                if let trustPEM = server.trustPEM {
                    tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(trustPEM.utf8)))
                }
                let context = try NIOSSLContext(configuration: tls)
                let host = server.host
                // TLS goes first in the pipeline, under the plain exchange so far: made on the channel's loop.
                try await nioChannel.eventLoop.submit {
                    try nioChannel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: host), position: .first)
                }.get()
                capabilities = try await command("EHLO herd-controller", expect: [250], step: "EHLO after STARTTLS")
            }
            if let (user, password) = server.credentials {
                guard server.startTLS else {
                    throw SMTPError(description: "refusing to send a password without STARTTLS")
                }
                let token = Data("\u{0}\(user)\u{0}\(password)".utf8).base64EncodedString()
                _ = try await command(
                    "AUTH PLAIN \(token)", expect: [235], step: "AUTH", shown: "AUTH PLAIN (credentials)")
            }
            _ = capabilities
            _ = try await command("MAIL FROM:<\(from)>", expect: [250], step: "MAIL FROM")
            for recipient in to {
                _ = try await command("RCPT TO:<\(recipient)>", expect: [250, 251], step: "RCPT TO \(recipient)")
            }
            _ = try await command("DATA", expect: [354], step: "DATA")
            try await outbound.write(ByteBuffer(bytes: dotStuffed(message) + Array("\r\n.\r\n".utf8)))
            _ = try await replies.next(expect: [250], step: "end of DATA")
            _ = try? await command("QUIT", expect: [221], step: "QUIT")
        }
    }

    /// Lines starting with a dot get another (RFC 5321 §4.5.2); the message already ends with CRLF.
    static func dotStuffed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 16)
        var lineStart = true
        for byte in message {
            if lineStart, byte == UInt8(ascii: ".") { out.append(byte) }
            out.append(byte)
            lineStart = byte == UInt8(ascii: "\n")
        }
        if out.suffix(2) == [13, 10] { out.removeLast(2) }
        return out
    }

    /// Reads replies: lines `CODE-text` continue, `CODE text` ends one.
    struct Replies {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var pending: [UInt8] = []

        init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }

        mutating func line() async throws -> String {
            while true {
                if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[..<end]
                    pending.removeSubrange(...end)
                    return String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
                }
                guard pending.count <= 4096 else { throw SMTPError(description: "a reply line longer than 4 KiB") }
                guard let buffer = try await iterator.next() else {
                    throw SMTPError(description: "the server closed the connection")
                }
                pending += buffer.readableBytesView
            }
        }

        /// The reply's lines (their text); throws unless its code is one of `codes`.
        mutating func next(expect codes: Set<Int>, step: String) async throws -> [String] {
            var lines: [String] = []
            while lines.count < 100 {
                let line = try await self.line()
                guard line.utf8.count >= 3, let code = Int(line.prefix(3)) else {
                    throw SMTPError(
                        description: "\(step): not an SMTP reply: \(String(line.prefix(200)).escapingControlCharacters)"
                    )
                }
                lines.append(String(line.dropFirst(4)))
                if line.utf8.count == 3 || line.dropFirst(3).first == " " {
                    guard codes.contains(code) else {
                        throw SMTPError(
                            description:
                                "\(step): the server answered \(code) \(String(lines.joined(separator: " ").prefix(300)).escapingControlCharacters)"
                        )
                    }
                    return lines
                }
            }
            throw SMTPError(description: "\(step): a reply of more than 100 lines")
        }
    }
}
