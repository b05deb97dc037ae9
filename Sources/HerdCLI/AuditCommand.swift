import ArgumentParser
import HerdProtocol

/// `herdctl audit [--verify [--expect-head HASH]]`: the hash-chained audit log, verified here.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log (proposals, approvals, denials, freezes, dispatches, results, silences, acks).",
        discussion: """
            --verify fetches every row and recomputes the hash chain on this machine (not the controller's \
            verdict: a compromised controller could claim anything), and exits 1 naming every row where it \
            breaks (a row changed, deleted, moved, or holding a NUL byte). Keep the printed head hash \
            somewhere else and pass it later as --expect-head: a chain rewritten from the start, or cut \
            short, no longer holds it.
            """)
    @Flag(help: "Verify the hash chain instead of listing.") var verify = false
    @Option(help: ArgumentHelp("With --verify: a head hash kept from an earlier verification.", valueName: "hash"))
    var expectHead: String?
    @Option(help: "Rows after this id.") var after: Int64 = 0
    @Option(help: "At most this many rows (1 to 10000).") var limit = 100
    @OptionGroup var connection: ConnectionOptions

    static let page = 10_000

    func validate() throws {
        guard after >= 0 else { throw ValidationError("--after is ≥ 0") }
        guard (1...10_000).contains(limit) else { throw ValidationError("--limit is 1 to 10000") }
        if let expectHead {
            guard verify else { throw ValidationError("--expect-head goes with --verify") }
            guard expectHead.utf8.count == 64, expectHead.allSatisfy(\.isHexDigit) else {
                throw ValidationError("--expect-head is a SHA-256 hash: 64 hex digits")
            }
        }
    }

    func run() async throws {
        if verify { return try await verifyHere() }
        let audit = try await withClient(connection) {
            try await $0.call(.GET, "/v1/audit?after=\(after)&limit=\(limit)", as: OperatorAPI.Audit.self)
        }
        if connection.json { return try printJSON(audit) }
        if audit.entries.isEmpty { return emit("no audit entry") }
        emit(
            Output.table(
                ["ID", "AT", "ACTOR", "ACTION", "SUBJECT", "DETAIL"],
                audit.entries.map {
                    [
                        "\($0.id)", Output.timestamp($0.at.instant), $0.actor, $0.action, $0.subject,
                        String($0.detail.prefix(100)),
                    ]
                }))
    }

    /// Every row, page by page, through the same verifier the controller uses (the dashboard's too).
    /// `keeping`: how many of the newest rows to return as well (the dashboard shows them).
    static func verifier(of client: OperatorClient, keeping: Int = 0) async throws -> (
        AuditChainVerifier, newest: [OperatorAPI.AuditEntry]
    ) {
        var verifier = AuditChainVerifier()
        var newest: [OperatorAPI.AuditEntry] = []
        var after: Int64 = 0
        while true {
            let page = try await client.call(.GET, "/v1/audit?after=\(after)&limit=\(page)", as: OperatorAPI.Audit.self)
            for entry in page.entries { verifier.add(entry) }
            if keeping > 0 { newest = Array((newest + page.entries).suffix(keeping)) }
            guard let last = page.entries.last, page.entries.count == Self.page else { break }
            after = last.id
        }
        return (verifier, newest)
    }

    /// Verifies the whole chain here and prints the verdict.
    private func verifyHere() async throws {
        var verifier = try await withClient(connection) { try await Self.verifier(of: $0).0 }
        if let expectHead { verifier.expect(head: expectHead) }
        let verification = verifier.verification
        if connection.json {
            try printJSON(verification)
        } else if verification.ok {
            emit("audit chain intact (verified here): \(verification.entries) rows; head \(verification.headHash)")
        } else {
            for problem in verification.problems {
                emit("row \(problem.id): \(problem.problem.escapingControlCharacters)")
            }
        }
        if !verification.ok {
            throw HerdctlError(
                description: "the audit chain is broken at \(verification.problems.count) place(s)",
                status: HerdctlExit.failed)
        }
    }
}
