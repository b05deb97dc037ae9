import ArgumentParser
import FoundationEssentials
import HerdProtocol
import NIOSSL
import X509

#if canImport(Glibc)
    import Glibc
#endif

/// `herd-agent enroll`: joins the fleet with a one-time token. Pins the fleet CA by fingerprint, makes
/// the agent's keys (0600, kept on this host), sends a CSR and its signing key, and stores the
/// certificate the controller issues. Running it again resumes a pending enrollment with the same keys.
struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Join the fleet: pin the controller's CA, make this agent's keys, get its certificate.",
        discussion: """
            Exit status 0 when enrolled or waiting for an operator (`herdctl agents accept ID`; run this again \
            afterwards to fetch the certificate), 1 when refused or unreachable, 64 for bad arguments.
            """)

    @OptionGroup var options: AgentOptions

    @Option(help: ArgumentHelp("The controller, https://HOST:PORT.", valueName: "url"))
    var controller: String

    @Option(help: ArgumentHelp("The one-time token from `herdctl agents token`.", valueName: "token"))
    var token: String?

    @Option(
        help: ArgumentHelp(
            "Instead of --token: the file `herdctl agents token --json` wrote, which also brings the CA's fingerprint "
                + "and the instance (and keeps the token out of `ps`).", valueName: "file"))
    var tokenFile: String?

    @Option(
        help: ArgumentHelp(
            "SHA-256 fingerprint of the fleet CA, as `herd-controller init` printed it (required with --token).",
            valueName: "hex"))
    var caFingerprint: String?

    @Option(
        help: ArgumentHelp(
            "This instance's domain (default: LOCAL_DOMAIN from .env.production); with several instances configured, "
                + "the one to enroll (each has its own identity).", valueName: "domain"))
    var instance: String?

    @Option(help: ArgumentHelp("Keep the identity here (default: state_dir from the configuration).", valueName: "dir"))
    var stateDir: String?

    func validate() throws {
        guard let url = BaseURL(controller), url.scheme == "https" else {
            throw ValidationError("--controller must be https://HOST[:PORT]")
        }
        if (token == nil) == (tokenFile == nil) {
            throw ValidationError("give exactly one of --token and --token-file")
        }
        if token != nil, caFingerprint == nil { throw ValidationError("--token needs --ca-fingerprint") }
        if let instance, !Rule.isInstanceName(instance) {
            throw ValidationError("--instance must be a lowercase DNS name")
        }
        if let stateDir, !stateDir.hasPrefix("/") { throw ValidationError("--state-dir must be an absolute path") }
    }

    func run() async throws {
        var configuration = try options.load()
        if let stateDir { configuration.stateDirectory = stateDir }
        let url = BaseURL(controller)!
        let secret: String
        var fingerprint = caFingerprint
        var tokenInstance: String?
        if let tokenFile {
            let issued = try Self.readTokenFile(tokenFile)
            for (given, written, option) in [
                (caFingerprint, issued.caFingerprint, "--ca-fingerprint"), (instance, issued.instance, "--instance"),
            ] where given != nil && given != written {
                throw AgentCommandError("\(option) differs from \(tokenFile)'s (\(written.escapingControlCharacters))")
            }
            (secret, fingerprint, tokenInstance) = (issued.token, issued.caFingerprint, issued.instance)
        } else {
            secret = token!
        }
        let domain: String
        if configuration.watchesSeveral {
            // One identity per instance, each in its own state directory.
            guard let named = instance ?? tokenInstance else {
                throw AgentCommandError("this agent watches several instances: pass --instance")
            }
            let resolved = try HostInstances.resolve(configuration, source: options.config).instances
            guard let watched = resolved.first(where: { $0.domain == named }) else {
                throw AgentCommandError(
                    "\(named) is not among the instances this agent watches: "
                        + resolved.compactMap(\.domain).joined(separator: ", "))
            }
            configuration = watched.configuration
            domain = named
        } else if let instance = instance ?? tokenInstance {
            domain = instance
        } else {
            let mastodon = MastodonInstallation.discover(
                configuration, filesystem: HostFilesystem(root: configuration.hostRoot))
            guard let local = mastodon.env?.values["LOCAL_DOMAIN"], Rule.isInstanceName(local) else {
                throw AgentCommandError("no LOCAL_DOMAIN in \(configuration.mastodonEnvFile): pass --instance")
            }
            domain = local
        }
        let files = AgentIdentityFiles(stateDirectory: configuration.stateDirectory)
        do {
            let ca = try await PinnedCA.fetch(host: url.host, port: url.port, fingerprint: fingerprint!)
            let caPEM = try Certificate(derEncoded: try ca.toDERBytes()).serializeAsPEM().pemString
            let (signingKey, tlsKey) = try files.keys()
            try SecureFile.write(caPEM, to: files.caFile, mode: 0o644)
            let request = EnrollRequest(
                token: secret, instance: domain, agentVersion: HerdVersion.current,
                signingPublicKey: Base64.encode(signingKey.publicKey.rawRepresentation),
                csrPEM: try tlsKey.certificateSigningRequest(instance: domain),
                host: HostFactsReader.read(configuration), sentAt: Date(),
                role: configuration.role == .all ? nil : configuration.role)
            let signer = MessageSigner(privateKey: signingKey)
            let client = try ControllerClient(controller: url.description, caCertificatePEM: caPEM, identity: nil)
            let answer: EnrollResponse
            do {
                answer = try await client.enroll(try signer.seal(request, as: .enrollRequest))
                await client.shutdown()
            } catch {
                await client.shutdown()
                throw AgentCommandError("\(error)")
            }
            guard answer.signingKeyID == signer.keyID else {
                throw AgentCommandError(
                    "the controller recorded another signing key (\(answer.signingKeyID.short)); refusing")
            }
            if let certificate = answer.certificatePEM {
                try SecureFile.write(certificate, to: files.certificateFile, mode: 0o644)
            }
            let enrollment = Enrollment(
                controller: url.description, agentID: answer.agentID, instance: domain, state: answer.state.rawValue,
                role: configuration.role)
            try SecureFile.write(enrollment.render(), to: files.enrollmentFile, mode: 0o600)
            switch answer.state {
            case .accepted:
                print("enrolled: agent \(answer.agentID) for \(domain); identity in \(files.directory)")
                print("signing key \(signer.keyID.rawValue)")
                print("next: herd-agent run")
            case .pending:
                print("waiting: agent \(answer.agentID) for \(domain) is pending; an operator runs")
                print("  herdctl agents accept \(answer.agentID)   (signing key \(signer.keyID.short))")
                print("then run this command again to fetch the certificate")
            }
        } catch let error as AgentCommandError {
            throw error
        } catch {
            throw AgentCommandError("\(error)")
        }
    }
}

extension EnrollCommand {
    /// What `herdctl agents token --json` printed: the token, the CA's fingerprint and the instance.
    static func readTokenFile(_ path: String) throws -> OperatorAPI.Token {
        let text: String
        do {
            text = try SecureFile.readText(path, maxBytes: 4096)
        } catch {
            throw AgentCommandError("\(path): \(error)")
        }
        guard let issued = try? JSONCodable.decode(OperatorAPI.Token.self, from: Data(text.utf8)),
            Rule.isInstanceName(issued.instance)
        else {
            throw AgentCommandError("\(path) is not what `herdctl agents token --json` prints")
        }
        return issued
    }
}

/// The facts a report carries about its host.
enum HostFactsReader {
    static func read(_ configuration: AgentConfiguration) -> HostFacts {
        var buffer = [CChar](repeating: 0, count: 256)
        let hostname =
            configuration.hostname
            ?? (gethostname(&buffer, buffer.count) == 0
                ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown")
        let mastodon = MastodonInstallation.discover(
            configuration, filesystem: HostFilesystem(root: configuration.hostRoot))
        let env = mastodon.env?.values ?? [:]
        let endpoint = env["S3_ENDPOINT"] ?? env["S3_HOSTNAME"].map { "https://\($0)" }
        return HostFacts(
            hostname: String(hostname.prefix(253)), mastodonVersion: mastodon.version.map { "\($0)" },
            objectStorageEndpoint: endpoint.flatMap { $0.utf8.count <= 256 ? $0 : nil },
            region: configuration.tags["region"], provider: configuration.tags["provider"], tags: configuration.tags)
    }
}
