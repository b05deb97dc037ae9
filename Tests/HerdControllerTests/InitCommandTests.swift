import ArgumentParser
import Foundation
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing
import X509

/// `herd-controller init`: what it creates, with which modes, and that running it again replaces nothing.
@Suite struct InitCommandTests {
    static func mode(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_mode & 0o777) : -1
    }

    static func runInit(_ arguments: [String]) async throws {
        var command = try HerdControllerCommand.parseAsRoot(["init"] + arguments)
        guard var async = command as? any AsyncParsableCommand else {
            try command.run()
            return
        }
        try await async.run()
    }

    @Test func createsEverythingPrivatelyAndIsIdempotent() async throws {
        let root = try TemporaryDirectory("herd-init")
        defer { root.remove() }
        let data = root.file("data")
        let herdctl = root.file("herdctl")
        let arguments = [
            "--data-dir", data, "--herdctl-dir", herdctl, "--server-name", "controller.test", "--server-name",
            "127.0.0.1", "--listen", "127.0.0.1:9443",
        ]
        try await Self.runInit(arguments)

        let secret = [
            "\(data)/ca/ca-key.pem", "\(data)/tls/server-key.pem", "\(data)/herd.sqlite", "\(herdctl)/tls-key.pem",
            "\(herdctl)/signing-key.pem", "\(herdctl)/config",
        ]
        for path in secret { #expect(Self.mode(path) == 0o600, "\(path)") }
        for directory in [data, "\(data)/ca", "\(data)/tls", herdctl] { #expect(Self.mode(directory) == 0o700) }

        let configuration = try ControllerConfiguration.load(dataDirectory: data)
        #expect(configuration.listenPort == 9443)
        #expect(configuration.serverNames == ["controller.test", "127.0.0.1"])
        let ca = try FleetCA(
            certificatePEM: try SecureFile.readText(configuration.caCertificateFile),
            keyPEM: try SecureFile.readText(configuration.caKeyFile, private: true))
        let server = try Certificate(pemEncoded: try SecureFile.readText(configuration.serverCertificateFile))
        #expect(server.issuer == ca.certificate.subject)
        let names = try server.extensions.subjectAlternativeNames.map(Array.init) ?? []
        #expect(names.contains(.dnsName("controller.test")))

        // The operator: keys here, public halves in the controller's store.
        let operatorCertificate = try Certificate(pemEncoded: try SecureFile.readText("\(herdctl)/certificate.pem"))
        let signingKey = try SigningKeyPEM.load(from: "\(herdctl)/signing-key.pem")
        let store = try Store(path: configuration.databaseFile)
        let operators = try await store.operators()
        try store.close()
        #expect(operators.count == 1)
        #expect(operators.first?.name == "admin")
        #expect(operators.first?.signingKeyID == KeyID(publicKey: signingKey.publicKey))
        #expect(operators.first?.certificateFingerprint == FleetCA.fingerprint(operatorCertificate))

        // Again: nothing replaced.
        let before = try secret.filter { !$0.hasSuffix(".sqlite") }.map { try SecureFile.read($0) }
        try await Self.runInit(arguments)
        let after = try secret.filter { !$0.hasSuffix(".sqlite") }.map { try SecureFile.read($0) }
        #expect(before == after)
        let reopened = try Store(path: configuration.databaseFile)
        #expect(try await reopened.operators().count == 1)
        try reopened.close()
    }

    @Test(arguments: [
        ["--data-dir", "relative/dir"], ["--operator", "Bad Name"], ["--listen", "nowhere"],
        ["--server-name", "bad name!"], ["--listen", "127.0.0.1:99999"],
    ])
    func badArgumentsAreRefusedBeforeAnythingIsCreated(arguments: [String]) async throws {
        let root = try TemporaryDirectory("herd-init")
        defer { root.remove() }
        let data = root.file("data")
        let all = arguments.first == "--data-dir" ? arguments : ["--data-dir", data] + arguments
        await #expect(throws: (any Error).self) { try await Self.runInit(all + ["--herdctl-dir", root.file("h")]) }
        #expect(!SecureFile.exists(data))
        #expect(!SecureFile.exists(root.file("h")))
    }

    @Test func aCorruptCAKeyIsAnErrorNotANewCA() async throws {
        let root = try TemporaryDirectory("herd-init")
        defer { root.remove() }
        let data = root.file("data")
        try await Self.runInit(["--data-dir", data, "--herdctl-dir", root.file("herdctl")])
        try SecureFile.write("garbage", to: "\(data)/ca/ca-key.pem")
        await #expect(throws: (any Error).self) {
            try await Self.runInit(["--data-dir", data, "--herdctl-dir", root.file("herdctl2")])
        }
        #expect(try SecureFile.readText("\(data)/ca/ca-key.pem") == "garbage")
    }
}
