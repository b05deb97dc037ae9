import Crypto
import Foundation
import HerdController
import HerdProtocol
import X509

/// The simulated fleet the benchmarks fill the store with and send: agents enrolled straight into the
/// store, and reports shaped like a real check cycle.
extension IngestBenchmark {
    /// An agent enrolled straight into `store` (token, CSR, certificate from `ca`), as the route would.
    static func enroll(_ instance: String, in store: Store, ca: FleetCA) async throws -> AgentRecord {
        let token = try await store.createToken(instance: instance, ttl: 3600, autoAccept: true, createdBy: nil)
        let signing = Curve25519.Signing.PrivateKey()
        let tls = P256.Signing.PrivateKey()
        let csr = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(instance) }, privateKey: .init(tls),
            attributes: .init(), signatureAlgorithm: .ecdsaWithSHA256)
        let csrPEM = try csr.serializeAsPEM().pemString
        let request = EnrollRequest(
            token: token, instance: instance, agentVersion: HerdVersion.current,
            signingPublicKey: Base64.encode(signing.publicKey.rawRepresentation), csrPEM: csrPEM,
            host: HostFacts(hostname: "bench"), sentAt: Date())
        return try await store.enroll(request, signingKey: signing.publicKey) { id in
            let certificate = try ca.issueClient(csrPEM: csrPEM, commonName: id)
            return IssuedCertificate(
                pem: try certificate.serializeAsPEM().pemString, fingerprint: FleetCA.fingerprint(certificate))
        }
    }

    /// When the `sequence`-th of `count` reports was collected: a minute apart, the last one now, as an
    /// agent's (reports made in one burst would share milliseconds, which no agent's do).
    static func cycle(_ sequence: Int, of count: Int) -> Date {
        Date().addingTimeInterval(Double(sequence - count) * 60)
    }

    /// A report shaped like a real cycle: `results` checks with metrics and the odd finding.
    static func report(
        agentID: String, instance: String, sequence: UInt64, results: Int, collectedAt: Date = Date()
    ) -> Report {
        let checks = (0..<results).map { index -> CheckResult in
            var metrics: [String: Double] = [:]
            for m in 0..<6 { metrics["metric_\(m)"] = Double((Int(sequence) * 7 + index * 13 + m) % 1000) / 10 }
            let findings =
                index % 5 == 0
                ? [
                    Finding(
                        category: .federationRemoteFailure, signature: "remote inbox timed out", count: 3,
                        sample: "Net::ReadTimeout")
                ]
                : []
            return CheckResult(
                checkID: "check.\(index)", status: index == 3 && sequence % 10 == 0 ? .warning : .ok,
                summary: "3 live process(es), 12/75 busy, 1204 queued, max latency 4 s (default), retry 120, dead 31",
                durationMilliseconds: 2.5, metrics: metrics, findings: findings)
        }
        return Report(
            agentID: agentID, instance: instance, sequence: sequence, collectedAt: collectedAt, sentAt: collectedAt,
            agentVersion: HerdVersion.current, intervalSeconds: 60,
            host: HostFacts(hostname: "bench", mastodonVersion: "4.3.2", region: "eu-central", tags: ["tier": "small"]),
            results: checks)
    }

    /// An agent enrolled straight into the store with a placeholder certificate (it never connects):
    /// only its records matter, for fleets measured from the inside.
    static func enrollStub(_ instance: String, in store: Store) async throws -> AgentRecord {
        let token = try await store.createToken(instance: instance, ttl: 3600, autoAccept: true, createdBy: nil)
        let key = Curve25519.Signing.PrivateKey()
        let request = EnrollRequest(
            token: token, instance: instance, agentVersion: HerdVersion.current,
            signingPublicKey: Base64.encode(key.publicKey.rawRepresentation), csrPEM: "unused",
            host: HostFacts(hostname: "bench"), sentAt: Date())
        return try await store.enroll(request, signingKey: key.publicKey) { id in
            IssuedCertificate(pem: "bench", fingerprint: id)
        }
    }

    /// `instances` agents straight into the store (certificates not usable for TLS), each with two
    /// healthy reports a minute apart: the fleet the run's agents join.
    static func fill(_ store: Store, instances: Int) async throws {
        var batch: [AcceptedReport] = []
        let now = Date()
        for index in 0..<instances {
            let instance = "f\(index).fleet.example"
            let agent = try await enrollStub(instance, in: store)
            for sequence in 1...2 {
                let at = now.addingTimeInterval(Double(sequence - 2) * 60)
                batch.append(
                    AcceptedReport(
                        agentID: agent.id,
                        report: report(
                            agentID: agent.id, instance: instance, sequence: UInt64(sequence), results: 15,
                            collectedAt: at),
                        receivedAt: at.timeIntervalSince1970))
            }
            if batch.count >= 2_000 {
                _ = try await store.write(batch)
                batch.removeAll()
            }
        }
        _ = try await store.write(batch)
    }
}
