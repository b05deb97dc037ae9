import Crypto
import Foundation
import GRDB
import HerdController
import HerdProtocol
import HerdTestSupport
import Testing

/// Remediation with the real executables over mutual TLS: a Sidekiq unit down on a host (the recording
/// systemctl stands in for systemd, which is not PID 1 here) → incident → `herdctl incident remediate` →
/// the requester's own approval refused → a second operator approves → the agent's long-poll gets it
/// and runs `systemctl restart` → verification → incident resolved as `remediation`. Then a forged
/// command planted in the controller's database, the freeze, hostile arguments, and the audit chain
/// tampered with.
@Suite(.serialized) struct RemediationEndToEndTests {
    typealias Fleet = EndToEndTests.Fleet

    static func json<T: Decodable>(_ type: T.Type, _ answer: (status: Int32, output: String)) throws -> T {
        #expect(answer.status == 0, "\(answer.output)")
        return try JSONCodable.decode(T.self, from: Data(answer.output.utf8))
    }

    @Test func aSecondOperatorApprovesAndTheAgentRestartsSidekiq() async throws {
        let fleet = try Fleet()
        try
            (try String(contentsOfFile: fleet.data + "/controller.conf", encoding: .utf8)
            + "patterns.persistent.check.services = 1/0s/2\n").write(
                toFile: fleet.data + "/controller.conf", atomically: true, encoding: .utf8)
        try fleet.startController()
        let bob = try fleet.addOperator("bob")

        // The host: systemd units the recording systemctl serves (Sidekiq failed), the host's own policy
        // with both operators' keys as `herdctl operators trust-line` prints them.
        let bin = fleet.root.file("bin")
        let units = bin + "/units"
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        let standins = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/standins")
        try FileManager.default.copyItem(atPath: standins + "/system/systemctl", toPath: bin + "/systemctl")
        try FileManager.default.copyItem(atPath: standins + "/journal/journalctl", toPath: bin + "/journalctl")
        // The herd-tootctl@ template's ExecStart, as the systemctl stand-in runs it, against a live
        // directory whose bin/tootctl records its calls and answers like Mastodon's.
        let live = fleet.root.file("live")
        try FileManager.default.createDirectory(atPath: live + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: standins + "/mastodon/tootctl", toPath: live + "/bin/tootctl")
        let healthy = RepositoryPaths.path("Tests/HerdAgentTests/Fixtures/hosts/healthy/systemd")
        for unit in try FileManager.default.contentsOfDirectory(atPath: healthy) {
            try FileManager.default.copyItem(atPath: healthy + "/" + unit, toPath: units + "/" + unit)
        }
        try """
        Id=mastodon-sidekiq.service
        LoadState=loaded
        ActiveState=failed
        SubState=failed
        Result=exit-code
        NRestarts=5
        MainPID=0
        ExecMainStatus=1

        """.write(toFile: units + "/mastodon-sidekiq.service", atomically: true, encoding: .utf8)
        try BuiltProduct.path("herd-agent").write(
            toFile: units + "/herd-tootctl.exec", atomically: true, encoding: .utf8)
        try live.write(toFile: units + "/herd-tootctl.live", atomically: true, encoding: .utf8)
        let calls = units + "/calls.log"
        func ran() -> [String] {
            ((try? String(contentsOfFile: calls, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        let policy = fleet.root.file("policy")
        try FileManager.default.createDirectory(atPath: policy, withIntermediateDirectories: true)
        let adminLine = try fleet.herdctl(["operators", "trust-line"])
        let bobLine = try fleet.run("herdctl", ["operators", "trust-line", "--config", bob])
        #expect(adminLine.status == 0 && bobLine.status == 0 && adminLine.output.contains("operator.admin = "))
        try (adminLine.output + bobLine.output + "approvals.routine = 1\n").write(
            toFile: policy + "/trust.conf", atomically: true, encoding: .utf8)
        try "restart_service = web, sidekiq\nrestart_service.limit = 5/1h\nmedia_remove.days = 7-30\n".write(
            toFile: policy + "/allowlist.conf", atomically: true, encoding: .utf8)
        try fleet.root.write(
            "agent.conf",
            """
            interval = 5
            checks.enabled = services
            units.supporting = nginx.service
            command_path = \(bin):/usr/bin:/bin
            mastodon.env_file = \(fleet.root.file("no-env"))
            state_dir = \(fleet.state)
            remediation.allowlist = \(policy)/allowlist.conf
            remediation.trust = \(policy)/trust.conf
            remediation.poll = 20s

            """)
        let token = try await fleet.token("social.example")
        let enrolled = try fleet.run(
            "herd-agent",
            [
                "enroll", "--config", fleet.agentConfig, "--controller", "https://127.0.0.1:\(fleet.port)", "--token",
                token.token, "--ca-fingerprint", token.caFingerprint, "--instance", "social.example",
            ])
        #expect(enrolled.status == 0, "\(enrolled.output)")
        let daemon = try fleet.daemon()
        defer {
            kill(daemon.processIdentifier, SIGKILL)
            daemon.waitUntilExit()
        }

        // Sidekiq's unit is down: an incident whose diagnosis suggests restarting it.
        var incident: OperatorAPI.IncidentRow?
        try await waitFor {
            incident = try? Self.json(OperatorAPI.Incidents.self, try fleet.herdctl(["incidents", "--open", "--json"]))
                .incidents.first
            return incident != nil
        }
        let open = try #require(incident)
        #expect(open.diagnosis?.action == "restart-service" && open.diagnosis?.parameters == ["service": "sidekiq"])

        let proposed = try Self.json(
            OperatorAPI.RemediationDetail.self,
            try fleet.herdctl(["incident", "remediate", "\(open.id)", "--preview-wait", "0s", "--json"]))
        let id = proposed.remediation.id
        #expect(proposed.remediation.state == "proposed" && proposed.remediation.incidentId == open.id)
        #expect(
            proposed.remediation.hostCommand == "systemctl restart mastodon-sidekiq.service (the host's units.sidekiq)")
        let selfApproval = try fleet.herdctl(["remediate", "approve", id, "--yes"])
        #expect(selfApproval.status == 1 && selfApproval.output.contains("cannot approve"), "\(selfApproval.output)")
        let shown = try fleet.herdctl(["remediate", "show", id])
        #expect(shown.output.contains("approvals 0 of 1"), "\(shown.output)")
        #expect(ran().isEmpty)

        let approved = try fleet.run("herdctl", ["remediate", "approve", id, "--yes", "--config", bob])
        #expect(approved.status == 0 && approved.output.contains("approved: 1 of 1"), "\(approved.output)")
        try await waitFor { !ran().isEmpty }
        #expect(ran() == ["restart -- mastodon-sidekiq.service user=root RAILS_ENV="])
        try await waitFor(seconds: 60) {
            let detail = try? Self.json(
                OperatorAPI.RemediationDetail.self, try fleet.herdctl(["remediate", "show", id, "--json"]))
            return detail?.remediation.state == "succeeded"
        }
        let done = try Self.json(
            OperatorAPI.RemediationDetail.self, try fleet.herdctl(["remediate", "show", id, "--json"])
        ).remediation
        #expect(done.verification.map(\.checkId) == ["services"] && done.verification.first?.status == "ok")
        let resolved = try Self.json(
            OperatorAPI.IncidentDetail.self, try fleet.herdctl(["incident", "show", "\(open.id)", "--json"]))
        #expect(resolved.incident.state == "resolved" && resolved.incident.resolution == "remediation")
        #expect(resolved.timeline.contains { $0.kind == "remediation dispatched" })

        // A destructive action: its dry run runs at once and shows the host's answer before anyone approves.
        let media = try fleet.herdctl([
            "remediate", "propose", "social.example", "media-remove", "--param", "days=7", "--reason", "disk at 97 %",
        ])
        #expect(media.status == 0, "\(media.output)")
        #expect(
            media.output.contains("runs: systemctl start --wait herd-tootctl@media-remove-7.service"), "\(media.output)"
        )
        #expect(media.output.contains("Removed 6557 media attachments (approx. 5.84 GB) (DRY RUN)"), "\(media.output)")
        #expect(media.output.contains("Needs 2 approval(s)"), "\(media.output)")
        let tootctl = try String(contentsOfFile: live + "/tootctl-calls.log", encoding: .utf8)
        #expect(tootctl.hasPrefix("media remove --days 7 --dry-run user=root RAILS_ENV=production"), "\(tootctl)")
        let pending = try Self.json(OperatorAPI.Remediations.self, try fleet.herdctl(["remediate", "list", "--json"]))
        let mediaID = try #require(pending.remediations.first { $0.action == "media-remove" && $0.previewOf == nil }).id
        #expect(try fleet.herdctl(["remediate", "deny", mediaID, "--reason", "cleaning by hand"]).status == 0)
        #expect(ran().count == 2)  // the restart and the dry run's unit; nothing destructive

        // A compromised controller: a command planted in its database, signed by a key no host trusts.
        let mallory = Curve25519.Signing.PrivateKey()
        let agentID = try #require(try await fleet.agentIDs().first)
        let forgedCommand = Command(
            id: UUID().uuidString.lowercased(), agentID: agentID, instance: "social.example",
            action: .restartService(.web), reason: "trust me", requestedBy: KeyID(publicKey: mallory.publicKey),
            issuedAt: Date(), expiresAt: Date().addingTimeInterval(300))
        let forged = try MessageSigner(privateKey: mallory).seal(forgedCommand, as: .command)
        let queue = try DatabaseQueue(path: fleet.data + "/herd.sqlite")
        try await queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO remediations (id, agent_id, instance, action, parameters, risk, reason, requested_by,
                        requested_key, payload, requester_signature, state, required_approvals, created_at, expires_at)
                    VALUES (?, ?, 'social.example', 'restart-service', 'service=web', 'routine', 'trust me', 'mallory',
                        ?, ?, ?, 'approved', 0, ?, ?)
                    """,
                arguments: [
                    forgedCommand.id, agentID, forgedCommand.requestedBy.rawValue, Data(forged.payload),
                    Data(forged.signatures[0].signature), Date().timeIntervalSince1970,
                    forgedCommand.expiresAt.timeIntervalSince1970,
                ])
        }
        try await waitFor(seconds: 60) {
            let detail = try? Self.json(
                OperatorAPI.RemediationDetail.self,
                try fleet.herdctl(["remediate", "show", forgedCommand.id, "--json"]))
            return detail?.remediation.state == "refused"
        }
        let refused = try Self.json(
            OperatorAPI.RemediationDetail.self, try fleet.herdctl(["remediate", "show", forgedCommand.id, "--json"])
        ).remediation
        #expect(refused.refusal == "insufficient_approvals", "\(refused.detail ?? "")")
        #expect(ran().count == 2, "the forged command ran: \(ran())")

        // The freeze: approved, never dispatched until thawed.
        #expect(try fleet.herdctl(["remediate", "freeze", "--reason", "drill"]).status == 0)
        let web = try Self.json(
            OperatorAPI.RemediationDetail.self,
            try fleet.herdctl([
                "remediate", "propose", "social.example", "restart-service", "--param", "service=web", "--reason",
                "slow answers", "--json",
            ])
        ).remediation
        #expect(try fleet.run("herdctl", ["remediate", "approve", web.id, "--yes", "--config", bob]).status == 0)
        let list = try fleet.herdctl(["remediate", "list"])
        #expect(list.output.contains("FROZEN by admin") && list.output.contains(web.id), "\(list.output)")
        try await Task.sleep(for: .seconds(7))  // a report cycle and more: still nothing
        #expect(ran().count == 2)
        #expect(try fleet.herdctl(["remediate", "thaw", "--reason", "drill over"]).status == 0)
        try await waitFor { ran().count == 3 }
        #expect(ran().last == "restart -- mastodon-web.service user=root RAILS_ENV=")

        // Hostile arguments: refused before anything is sent (2), or by the controller (1).
        for arguments in [
            ["remediate", "propose", "social.example", "rm-rf", "--reason", "x"],
            ["remediate", "propose", "social.example", "media-remove", "--param", "days=0", "--reason", "x"],
            [
                "remediate", "propose", "social.example", "restart-service", "--param", "service=web;reboot",
                "--reason", "x",
            ],
            ["remediate", "propose", "Not A Domain", "restart-service", "--param", "service=web", "--reason", "x"],
            ["remediate", "approve", "not-a-uuid"], ["remediate", "deny", id, "--reason", ""],
            [
                "remediate", "propose", "social.example", "restart-service", "--param", "service=web", "--reason", "x",
                "--ttl", "5h",
            ],
            ["audit", "--limit", "0"],
        ] {
            #expect(try fleet.herdctl(arguments).status == 2, "\(arguments)")
        }
        #expect(try fleet.herdctl(["remediate", "approve", UUID().uuidString.lowercased(), "--yes"]).status == 1)
        #expect(try fleet.herdctl(["remediate", "deny", id, "--reason", "too late"]).status == 1)
        // Without a terminal, herdctl signs only when told to; a command its operator denied, never.
        let notATerminal = try fleet.run("herdctl", ["remediate", "approve", id, "--config", bob])
        #expect(notATerminal.status == 2 && notATerminal.output.contains("--yes"), "\(notATerminal.output)")
        let deniedByMe = try fleet.herdctl(["remediate", "approve", id, "--yes"])
        #expect(deniedByMe.status == 1 && deniedByMe.output.contains("you denied"), "\(deniedByMe.output)")
        #expect(
            try fleet.herdctl([
                "remediate", "propose", "other.example", "restart-service", "--param", "service=web", "--reason", "x",
            ]).status == 1)

        // The audit log holds every step, chained; tampering with one row is found and named.
        let audit = try Self.json(OperatorAPI.Audit.self, try fleet.herdctl(["audit", "--json", "--limit", "1000"]))
        let actions = Set(audit.entries.map(\.action))
        for action in [
            "remediation.propose", "remediation.approve", "remediation.dispatch", "remediation.result",
            "remediation.freeze", "remediation.thaw",
        ] {
            #expect(actions.contains(action), "\(action) missing from \(actions)")
        }
        let verified = try fleet.herdctl(["audit", "--verify"])
        #expect(
            verified.status == 0 && verified.output.contains("audit chain intact (verified here)"), "\(verified.output)"
        )
        let head = try #require(
            verified.output.split(separator: " ").last.map {
                String($0).trimmingCharacters(in: .whitespacesAndNewlines)
            })
        #expect(try fleet.herdctl(["audit", "--verify", "--expect-head", head]).status == 0)
        #expect(try fleet.herdctl(["audit", "--verify", "--expect-head", "xyz"]).status == 2)
        let target = try #require(audit.entries.first { $0.action == "remediation.approve" })
        let dispatch = try #require(audit.entries.first { $0.action == "remediation.dispatch" })
        try await queue.write { db in
            try db.execute(sql: "DROP TRIGGER audit_append_only_update")
            try db.execute(sql: "UPDATE audit SET actor = 'admin' WHERE id = ?", arguments: [target.id])
            // Text after a NUL byte: invisible to a reader that stops there, not to the chain.
            try db.execute(
                sql: "UPDATE audit SET detail = detail || char(0) || ' and nothing else' WHERE id = ?",
                arguments: [dispatch.id])
            // A terminal escape planted in a row: herdctl prints it escaped, never raw.
            try db.execute(sql: "UPDATE audit SET subject = subject || char(27) || '[2J' WHERE id = 1")
        }
        try queue.close()
        let listed = try fleet.herdctl(["audit", "--limit", "5"])
        #expect(!listed.output.contains("\u{1B}") && listed.output.contains("\\u{1b}[2J"), "\(listed.output)")
        let broken = try fleet.herdctl(["audit", "--verify"])
        #expect(
            broken.status == 1 && broken.output.contains("row \(target.id): does not match its hash")
                && broken.output.contains("row \(dispatch.id): does not match its hash"),
            "\(broken.output)")
        // Whoever rewrites the chain from the changed row on cannot keep the head the operator kept.
        let rewritten = try fleet.herdctl(["audit", "--verify", "--expect-head", String(repeating: "a", count: 64)])
        #expect(rewritten.status == 1 && rewritten.output.contains("head hash you kept"), "\(rewritten.output)")
    }
}
