import Foundation
import HerdProtocol
import HerdTestSupport
import Testing

/// Every canonical example in Protocol/examples decodes, validates, and re-encodes to the same document,
/// so the contract and the Swift types cannot drift apart.
@Suite struct ExampleMessagesTests {
    /// Which type each example file holds, by file-name prefix (longest prefix wins).
    static let kinds: [(prefix: String, check: @Sendable ([UInt8]) throws -> [UInt8])] = [
        ("report", roundTrip(Report.self)),
        ("enroll-request", roundTrip(EnrollRequest.self)),
        ("enroll-response", roundTrip(EnrollResponse.self)),
        ("command-result", roundTrip(CommandResult.self)),
        ("command-batch", roundTrip(CommandBatch.self)),
        ("command", roundTrip(Command.self)),
        ("approval", roundTrip(Approval.self)),
        ("ingest-response", roundTrip(IngestResponse.self)),
        ("error-response", roundTrip(ErrorResponse.self)),
        ("envelope", roundTrip(SignedEnvelope.self)),
    ]

    static func roundTrip<T: WireMessage>(_ type: T.Type) -> @Sendable ([UInt8]) throws -> [UInt8] {
        { bytes in WireCoding.encode(try WireCoding.decode(T.self, from: bytes)) }
    }

    static func examples() throws -> [String] {
        try RepositoryPaths.files(in: "Protocol/examples", suffix: ".json")
    }

    @Test(arguments: try examples())
    func exampleRoundTrips(path: String) throws {
        let name = String(path.split(separator: "/").last!)
        let kind = Self.kinds.filter { name.hasPrefix($0.prefix) }.max { $0.prefix.count < $1.prefix.count }
        let check = try #require(kind?.check, "\(name) matches no message type: add it to ExampleMessagesTests.kinds")
        let original = try RepositoryPaths.read(path)
        let reencoded = try check(original)
        #expect(try JSONValue.parse(reencoded) == JSONValue.parse(original), "\(name) changed in a round trip")
    }

    @Test func everyMessageTypeHasAnExample() throws {
        let names = try Self.examples().map { String($0.split(separator: "/").last!) }
        for kind in Self.kinds {
            #expect(names.contains { $0.hasPrefix(kind.prefix) }, "no example for \(kind.prefix)")
        }
    }

    /// The schemas and the vectors are also checked by independent Python implementations, so a schema or
    /// a rule that the Swift code happens to agree with but the written contract does not is still caught.
    @Test(arguments: ["check_schemas.py", "check_vectors.py"])
    func independentImplementationAgrees(tool: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        // scripts/test.sh sets HERD_PYTHON to an interpreter that has jsonschema and cryptography.
        let python = ProcessInfo.processInfo.environment["HERD_PYTHON"] ?? "python3"
        process.arguments = [python, RepositoryPaths.path("Protocol/tools/\(tool)")]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
    }
}
