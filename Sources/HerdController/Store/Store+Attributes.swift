import Foundation
import HerdProtocol

/// Attributes operators give instances (a datacenter, a customer, a plan): next to what agents report,
/// they group instances for fleet incidents (`attribute.NAME`) and silences. Audited.
extension Store {
    public static let maxOperatorAttributes = 32

    public func setOperatorAttributes(
        instance: String, set: [String: String], remove: [String], by actor: String, now: Double = now()
    ) async throws -> [String: String] {
        for (key, value) in set {
            guard Rule.isIdentifier(key) else { throw WireError(.invalidField, "attribute names are identifiers") }
            guard !value.isEmpty, value.utf8.count <= Limits.maxShortTextBytes,
                !value.contains(where: { $0.isNewline || $0 == "=" })
            else { throw WireError(.invalidField, "attribute \(key): one line, 1 to 256 bytes, no '='") }
        }
        guard remove.allSatisfy(Rule.isIdentifier) else {
            throw WireError(.invalidField, "attribute names are identifiers")
        }
        return try await write { db in
            guard
                let stored = try String.fetchOne(
                    db, sql: "SELECT operator_attributes FROM instances WHERE domain = ?", arguments: [instance])
            else { throw WireError(.notFound, "no reports from \(instance) yet") }
            var attributes =
                (try? JSONCodable.decode([String: String].self, from: Array(stored.utf8))) ?? [:]
            for key in remove { attributes[key] = nil }
            attributes.merge(set) { _, new in new }
            guard attributes.count <= Self.maxOperatorAttributes else {
                throw WireError(.invalidField, "at most \(Self.maxOperatorAttributes) attributes per instance")
            }
            try db.execute(
                sql: "UPDATE instances SET operator_attributes = ? WHERE domain = ?",
                arguments: [try Self.jsonObject(attributes), instance])
            let change =
                set.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + remove.sorted().map { "-\($0)" }
            try AuditChain.append(
                db, at: now, actor: actor, action: "instance.attributes", subject: "instance:\(instance)",
                detail: change.joined(separator: " "))
            return attributes
        }
    }
}
