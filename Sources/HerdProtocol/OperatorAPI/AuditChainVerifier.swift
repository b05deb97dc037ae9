import Crypto

/// The audit log's hash chain (Controller/README.md §Audit), computed the same way by the controller
/// that writes it and by `herdctl audit --verify`, which checks it on the operator's machine: a
/// compromised controller could answer "intact" for any chain, but it cannot make rows it changed
/// hash to what the operator's copy of the head says.
///
/// `hash = SHA-256(previous ‖ id ‖ at ‖ actor ‖ action ‖ subject ‖ detail)`, each field as `decimal
/// byte count ":" bytes`, `at` as the 16 hex digits of its IEEE 754 bits, the first row chaining to 64
/// zeros. Text fields are hashed as the bytes stored, NUL and all: a reader that stops at a NUL byte
/// would otherwise see (and hash) less than the row holds, and a row that holds one is named.
public struct AuditChainVerifier: Sendable {
    public static let genesis = String(repeating: "0", count: 64)

    public static func hash(
        id: Int64, at: Double, fields: [some Collection<UInt8>], previous: String
    ) -> String {
        var bytes: [UInt8] = []
        func add(_ field: some Collection<UInt8>) {
            bytes.append(contentsOf: "\(field.count):".utf8)
            bytes.append(contentsOf: field)
        }
        add(previous.utf8)
        add(String(id).utf8)
        add(String(at.bitPattern, radix: 16).utf8)
        for field in fields { add(field) }
        return Hex.lowercase(SHA256.hash(data: bytes))
    }

    public static func hash(_ entry: OperatorAPI.AuditEntry, previous: String) -> String {
        hash(
            id: entry.id, at: entry.at, fields: [entry.actor, entry.action, entry.subject, entry.detail].map(\.utf8),
            previous: previous)
    }

    public private(set) var problems: [OperatorAPI.AuditVerification.Problem] = []
    public private(set) var entries = 0
    /// The last row's stored hash (genesis before any row).
    public private(set) var head = AuditChainVerifier.genesis
    /// Every row's stored hash that its row also recomputes to, for `--expect-head`.
    private var verified: Set<String> = []
    private var expectedID: Int64 = 1

    public init() {}

    /// The next row, in id order: its fields as stored, and its stored hash.
    public mutating func add(id: Int64, at: Double, fields: [[UInt8]], hash stored: String) {
        entries += 1
        if id != expectedID {
            problems.append(
                .init(
                    id: id,
                    problem: id > expectedID ? "rows \(expectedID)…\(id - 1) are missing (deleted)" : "out of order"))
        } else if Self.hash(id: id, at: at, fields: fields, previous: head) != stored {
            problems.append(
                .init(
                    id: id, problem: "does not match its hash: changed, or the row before it was replaced or reordered")
            )
        } else if fields.contains(where: { $0.contains(0) }) {
            problems.append(.init(id: id, problem: "holds a NUL byte: readers that stop at it see less than the row"))
        } else {
            verified.insert(stored)
        }
        head = stored
        expectedID = id + 1
    }

    public mutating func add(_ entry: OperatorAPI.AuditEntry) {
        add(
            id: entry.id, at: entry.at,
            fields: [entry.actor, entry.action, entry.subject, entry.detail].map { Array($0.utf8) },
            hash: entry.hash)
    }

    /// The controller's own record of the last row (`audit_head`), when it has one to compare.
    public mutating func checkHead(id: Int64, hash: String) {
        let last = expectedID - 1
        guard id != last || hash != head else { return }
        problems.append(
            .init(
                id: id,
                problem: id > last
                    ? "rows \(last + 1)…\(id) are missing (the newest rows were deleted)"
                    : "the chain's head (row \(id)) does not match the last row (\(last))"))
    }

    /// A head hash the operator kept from an earlier verification: the chain only grows, so a row
    /// must still carry it, intact.
    public mutating func expect(head kept: String) {
        guard kept != Self.genesis, !verified.contains(kept.lowercased()) else { return }
        problems.append(
            .init(
                id: expectedID - 1,
                problem: "no intact row has the head hash you kept (\(kept)): the chain was rewritten or cut"))
    }

    public var verification: OperatorAPI.AuditVerification {
        OperatorAPI.AuditVerification(ok: problems.isEmpty, entries: entries, problems: problems, headHash: head)
    }
}
