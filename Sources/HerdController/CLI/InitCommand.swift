import ArgumentParser
import Crypto
import Foundation
import HerdProtocol
import X509

/// `herd-controller init`: everything a controller needs, created once with restrictive permissions —
/// the fleet CA, the server certificate, the database (SQLite, or the schema in PostgreSQL with
/// `--store`), a configuration file, and the first operator's identity for herdctl on this machine. Re-running it creates what is missing and never replaces a key.
struct InitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create the controller's CA, server certificate, database, configuration and first operator.",
        discussion: """
            Idempotent: what exists is kept (keys are never overwritten), what is missing is created. \
            The first operator's private keys are written to --herdctl-dir (mode 0600); the controller \
            keeps only the operator's public key and certificate. Prints the CA fingerprint that agents \
            pin with `herd-agent enroll --ca-fingerprint`.
            """)

    @Option(help: "The controller's data directory (created 0700).")
    var dataDir: String

    @Option(help: "Address to listen on, HOST:PORT (written to a new controller.conf).")
    var listen = "127.0.0.1:8443"

    @Option(
        name: .customLong("server-name"),
        help: "A DNS name or IP address for the server certificate; repeat for several (default: localhost, 127.0.0.1)."
    )
    var serverNames: [String] = []

    @Option(
        help: ArgumentHelp(
            "The store: a postgresql:// URL (Controller/README.md, \"PostgreSQL\"); default: DATA_DIR/herd.sqlite.",
            valueName: "url"))
    var store: String?

    @Option(help: "Name of the first operator.")
    var `operator` = "admin"

    @Option(help: "Where herdctl's configuration and the first operator's keys go (default: ~/.config/herdctl).")
    var herdctlDir: String?

    func run() async throws {
        do {
            let report = try await Self.initialize(
                dataDirectory: dataDir, listen: listen, serverNames: serverNames, store: store,
                operatorName: `operator`, herdctlDirectory: herdctlDir ?? Self.defaultHerdctlDirectory())
            print(report)
        } catch let error as SecureFileError {
            throw ValidationError(error.description)
        } catch let error as ControllerConfigurationError {
            throw ValidationError(error.description)
        } catch let error as PKIError {
            throw ValidationError(error.description)
        }
    }

    static func defaultHerdctlDirectory() -> String {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        return (ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"] ?? home + "/.config") + "/herdctl"
    }

    /// Does the work of `init`; returns what to print.
    static func initialize(
        dataDirectory: String, listen: String, serverNames: [String], store storeLocation: String? = nil,
        operatorName: String, herdctlDirectory: String
    ) async throws -> String {
        guard dataDirectory.hasPrefix("/") else { throw SecureFileError(dataDirectory, "give an absolute path") }
        guard Rule.isIdentifier(operatorName) else {
            throw ControllerConfigurationError("operator names are identifiers (a-z, 0-9, . _ -)")
        }
        var lines: [String] = []
        func note(_ what: String, _ path: String, created: Bool) {
            lines.append("\(created ? "created" : "kept   ") \(what): \(path)")
        }
        // Every argument is checked before anything is created.
        var configuration = ControllerConfiguration(dataDirectory: dataDirectory)
        try configuration.set("listen", listen)
        if !serverNames.isEmpty { try configuration.set("server_names", serverNames.joined(separator: ",")) }
        if let storeLocation { try configuration.set("store", storeLocation) }

        try SecureFile.makeDirectory(dataDirectory)
        try SecureFile.makeDirectory(dataDirectory + "/ca")
        try SecureFile.makeDirectory(dataDirectory + "/tls")
        if SecureFile.exists(configuration.configurationFile) {
            configuration = try ControllerConfiguration.load(dataDirectory: dataDirectory)
            note("configuration", configuration.configurationFile, created: false)
        } else {
            try SecureFile.write(
                configuration.render(), to: configuration.configurationFile, mode: 0o640, replace: false)
            note("configuration", configuration.configurationFile, created: true)
        }

        let ca: FleetCA
        if SecureFile.exists(configuration.caKeyFile) {
            ca = try FleetCA(
                certificatePEM: try SecureFile.readText(configuration.caCertificateFile),
                keyPEM: try SecureFile.readText(configuration.caKeyFile, private: true))
            note("fleet CA", configuration.caCertificateFile, created: false)
        } else {
            ca = try FleetCA.create()
            try SecureFile.write(ca.keyPEM, to: configuration.caKeyFile, mode: 0o600, replace: false)
            try SecureFile.write(ca.certificatePEM, to: configuration.caCertificateFile, mode: 0o644)
            note("fleet CA", configuration.caCertificateFile, created: true)
        }

        if SecureFile.exists(configuration.serverKeyFile) {
            note("server certificate", configuration.serverCertificateFile, created: false)
        } else {
            let key = P256.Signing.PrivateKey()
            let certificate = try ca.issueServer(names: configuration.serverNames, publicKey: key.publicKey)
            try SecureFile.write(key.pemRepresentation, to: configuration.serverKeyFile, mode: 0o600, replace: false)
            try SecureFile.write(
                try certificate.serializeAsPEM().pemString, to: configuration.serverCertificateFile, mode: 0o644)
            note(
                "server certificate (\(configuration.serverNames.joined(separator: ", ")))",
                configuration.serverCertificateFile, created: true)
        }

        let store = try Store(location: configuration.storeLocation)
        defer { try? store.close() }
        if store.dialect == .sqlite { chmod(configuration.databaseFile, 0o600) }
        note("database", store.location, created: true)

        if try await store.operators().isEmpty {
            let identity = try OperatorIdentity.create(
                in: herdctlDirectory, name: operatorName, controller: configuration.publicURL,
                caCertificatePEM: ca.certificatePEM)
            let certificate = try ca.issueClient(
                publicKey: identity.tlsPublicKey, commonName: "herd-operator:\(operatorName)")
            let issued = IssuedCertificate(
                pem: try certificate.serializeAsPEM().pemString, fingerprint: FleetCA.fingerprint(certificate))
            try identity.installCertificate(issued.pem)
            _ = try await store.addOperator(
                name: operatorName, signingKey: identity.signingPublicKey, certificate: issued)
            note("operator \(operatorName) for herdctl", herdctlDirectory + "/config", created: true)
        } else {
            lines.append("kept    operators: herdctl operators add NAME enrols more")
        }
        lines.append("")
        lines.append("CA fingerprint (SHA-256): \(ca.fingerprint)")
        lines.append("next: herd-controller serve --data-dir \(dataDirectory)")
        lines.append(
            "      herdctl agents token --instance DOMAIN   then on the host: herd-agent enroll --controller "
                + "\(configuration.publicURL) --token TOKEN --ca-fingerprint \(ca.fingerprint)")
        return lines.joined(separator: "\n")
    }
}

extension ControllerConfiguration {
    /// The URL agents and herdctl use: the first server name and the listen port.
    public var publicURL: String {
        let name = serverNames.first ?? listenHost
        return "https://\(name.contains(":") ? "[\(name)]" : name):\(listenPort)"
    }
}
