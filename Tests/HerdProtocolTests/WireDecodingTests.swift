import HerdProtocol
import HerdTestSupport
import Testing

/// Bad input at the wire boundary: each kind gets one typed error with a stable code, never a crash.
@Suite struct WireDecodingTests {
    static let reportBytes = try! RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/report.json"))

    /// The wire code of the error `body` throws, nil when it succeeds, `not a WireError` otherwise.
    static func code(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as WireError {
            return error.code.rawValue
        } catch {
            return "not a WireError: \(error)"
        }
    }

    static func decodeReport(_ bytes: [UInt8]) -> String? {
        code { _ = try WireCoding.decode(Report.self, from: bytes) }
    }

    static func decodeReport(_ text: String) -> String? { decodeReport(Array(text.utf8)) }

    static func editedReport(_ edit: (inout Report) -> Void) throws -> [UInt8] {
        var report = try WireCoding.decode(Report.self, from: reportBytes)
        edit(&report)
        // WireCoding.encode does not validate: this is what a hostile or buggy sender can produce.
        return WireCoding.encode(report)
    }

    @Test func oversizedBodyIsTooLargeBeforeParsing() {
        let body = [UInt8](repeating: 0x20, count: Limits.maxEnvelopeBytes + 1)
        #expect(Self.decodeReport(body) == "too_large")
        #expect(
            Self.code { _ = try WireCoding.decode(Report.self, from: Self.reportBytes, maxBytes: 100) } == "too_large")
    }

    @Test func invalidUTF8IsMalformed() {
        var bytes = Self.reportBytes
        let index = bytes.firstIndex(of: UInt8(ascii: "s"))!
        bytes[index] = 0xC3  // a lead byte without its continuation
        #expect(Self.decodeReport(bytes) == "malformed")
        #expect(Self.decodeReport([0xFF, 0xFE, 0x7B, 0x7D]) == "malformed")
    }

    @Test func deepNestingIsMalformed() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(Self.decodeReport(deep) == "malformed")
        let deepInField =
            "{\"agent_id\": " + String(repeating: "{\"a\":", count: 40) + "1" + String(repeating: "}", count: 40) + "}"
        #expect(Self.decodeReport(deepInField) == "malformed")
        // Brackets inside strings do not count, escaped quotes included.
        let text = String(decoding: Self.reportBytes, as: UTF8.self)
            .replacing("\"summary\": \"all watched", with: "\"summary\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[ all watched")
        #expect(Self.decodeReport(text) == nil)
    }

    @Test(arguments: [
        "", "null", "[]", "42", "\"report\"", "{", "{\"agent_id\": }", "{} trailing", "\u{0}\u{1}\u{2}",
        "{\"agent_id\": \"a\",,}",
    ])
    func garbageIsMalformed(text: String) {
        #expect(Self.decodeReport(text) == "malformed")
    }

    /// One rule for numbers (Protocol §2): grammar is `malformed`; a grammatical number a known field
    /// cannot hold is `invalid_field`; in an unknown field any grammatical number is skipped.
    @Test func outOfRangeNumbersAreOneRule() {
        let text = String(decoding: Self.reportBytes, as: UTF8.self)
        func with(_ field: String) -> String {
            text.replacing("{\n  \"agent_id\"", with: "{\n  \(field),\n  \"agent_id\"")
        }
        let huge = String(repeating: "9", count: 100)
        #expect(Self.decodeReport(with("\"x_unknown\": \(huge)")) == nil)
        #expect(Self.decodeReport(with("\"x_unknown\": 1e400")) == nil)
        #expect(Self.decodeReport(with("\"x_unknown\": -\(huge).5e-99999")) == nil)
        #expect(Self.decodeReport(with("\"x_unknown\": 01")) == "malformed")
        #expect(Self.decodeReport(text.replacing("\"sequence\": 42", with: "\"sequence\": \(huge)")) == "invalid_field")
        let metric = text.replacing("\"metrics\": {", with: "\"metrics\": {\"x.huge\": 1e400, ", maxReplacements: 1)
        #expect(Self.decodeReport(metric) == "invalid_field")
        let long = text.replacing("\"metrics\": {", with: "\"metrics\": {\"x.long\": 1.\(huge), ", maxReplacements: 1)
        #expect(Self.decodeReport(long) == "invalid_field")
    }

    @Test func binaryGarbageIsMalformed() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 1...512, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            #expect(Self.decodeReport(bytes) == "malformed")
        }
    }

    @Test func missingFieldNamesTheField() throws {
        let text = String(decoding: Self.reportBytes, as: UTF8.self).replacing("\"sequence\": 42", with: "\"seq\": 42")
        do throws(WireError) {
            _ = try WireCoding.decode(Report.self, from: Array(text.utf8))
            Issue.record("decoded without sequence")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.message == "sequence: missing")
        }
    }

    @Test func wrongTypeNamesThePath() throws {
        let text = String(decoding: Self.reportBytes, as: UTF8.self).replacing(
            "\"duration_ms\": 3.2", with: "\"duration_ms\": \"fast\"")
        do throws(WireError) {
            _ = try WireCoding.decode(Report.self, from: Array(text.utf8))
            Issue.record("decoded a string duration")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.message.hasPrefix("results[1].duration_ms"))
        }
    }

    @Test func unknownStatusFailsButUnknownCategoryIsKept() throws {
        let text = String(decoding: Self.reportBytes, as: UTF8.self)
        let maintenance = Array(text.replacing("\"status\": \"ok\"", with: "\"status\": \"maintenance\"").utf8)
        #expect(Self.decodeReport(maintenance) == "malformed")
        #expect(throws: WireError(.malformed, "results[2].status: expected one of ok, warning, critical, unknown")) {
            try WireCoding.decode(Report.self, from: maintenance)
        }
        let newer = text.replacing("\"category\": \"db_pool_exhausted\"", with: "\"category\": \"pgbouncer_saturated\"")
        let report = try WireCoding.decode(Report.self, from: Array(newer.utf8))
        #expect(report.results[0].findings[0].category == FindingCategory("pgbouncer_saturated"))
        #expect(report.results[0].findings[0].category.rawValue == "pgbouncer_saturated")
    }

    @Test func badTimestampIsMalformed() {
        let text = String(decoding: Self.reportBytes, as: UTF8.self)
        #expect(Self.decodeReport(text.replacing("2026-11-21T18:00:00.350Z", with: "yesterday")) == "malformed")
        #expect(Self.decodeReport(text.replacing("2026-11-21T18:00:00.350Z", with: "1795284000")) == "malformed")
    }

    @Test func sequenceBoundsAreEnforced() throws {
        #expect(Self.decodeReport(try Self.editedReport { $0.sequence = 0 }) == "invalid_field")
        #expect(Self.decodeReport(try Self.editedReport { $0.sequence = Limits.maxSequence + 1 }) == "invalid_field")
        #expect(Self.decodeReport(try Self.editedReport { $0.sequence = Limits.maxSequence }) == nil)
        let negative = String(decoding: Self.reportBytes, as: UTF8.self).replacing(
            "\"sequence\": 42", with: "\"sequence\": -1")
        #expect(Self.decodeReport(negative) == "invalid_field")
    }

    @Test func fieldRulesAreInvalidField() throws {
        let edits: [(String, (inout Report) -> Void)] = [
            ("agent id with capitals", { $0.agentID = "Agent-1" }),
            ("agent id too long", { $0.agentID = String(repeating: "a", count: 65) }),
            ("instance not a domain", { $0.instance = "social example.org" }),
            ("instance with uppercase", { $0.instance = "Social.example.org" }),
            ("instance label too long", { $0.instance = String(repeating: "a", count: 64) + ".org" }),
            ("empty label", { $0.instance = "social..org" }),
            ("interval zero", { $0.intervalSeconds = 0 }),
            ("summary with newline", { $0.results[0].summary = "two\nlines" }),
            ("summary too long", { $0.results[0].summary = String(repeating: "x", count: 513) }),
            ("empty summary", { $0.results[0].summary = "" }),
            ("bad check id", { $0.results[0].checkID = "../etc/passwd" }),
            ("duplicate check id", { $0.results[1].checkID = $0.results[0].checkID }),
            ("negative duration", { $0.results[0].durationMilliseconds = -1 }),
            ("bad metric name", { $0.results[0].metrics["Requests 5xx"] = 1 }),
            ("too many metrics", { r in for i in 0...128 { r.results[0].metrics["m\(i)"] = 1 } }),
            ("finding count zero", { $0.results[0].findings[0].count = 0 }),
            ("sample with control bytes", { $0.results[0].findings[0].sample = "a\u{1B}[31mred" }),
            (
                "too many results",
                { r in
                    r.results = (0...256).map {
                        CheckResult(checkID: "c\($0)", status: .ok, summary: "ok", durationMilliseconds: 0)
                    }
                }
            ),
            ("too many tags", { r in for i in 0...32 { r.host.tags["t\(i)"] = "v" } }),
            ("hostname with newline", { $0.host.hostname = "a\nb" }),
        ]
        for (name, edit) in edits {
            #expect(Self.decodeReport(try Self.editedReport(edit)) == "invalid_field", "\(name)")
        }
    }

    @Test func commandParametersAreBounded() throws {
        let bytes = try RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/command-media-remove.json"))
        let text = String(decoding: bytes, as: UTF8.self)
        func decode(_ t: String) -> String? {
            Self.code { _ = try WireCoding.decode(Command.self, from: Array(t.utf8)) }
        }
        #expect(decode(text) == nil)
        #expect(decode(text.replacing("\"days\": 7", with: "\"days\": 0")) == "invalid_field")
        #expect(decode(text.replacing("\"days\": 7", with: "\"days\": 366")) == "invalid_field")
        #expect(decode(text.replacing("\"days\": 7", with: "\"days\": 7.5")) == "malformed")
        #expect(decode(text.replacing("\"days\": 7", with: "\"days\": \"7; rm -rf /\"")) == "malformed")
        #expect(decode(text.replacing("\"media_remove\"", with: "\"shell\"")) == "malformed")
        #expect(decode(text.replacing("\"dry_run\": true,", with: "")) == "malformed")
        #expect(
            decode(text.replacing("5b0e6a5e", with: "5B0E6A5E").replacing("9c2d7f40", with: "9C2D7F40"))
                == "invalid_field")
        #expect(decode(text.replacing("18:20:00.000Z", with: "19:10:01.000Z")) == "invalid_field")
        #expect(decode(text.replacing("18:20:00.000Z", with: "18:10:00.000Z")) == "invalid_field")
        let cards = String(
            decoding: try RepositoryPaths.read(
                RepositoryPaths.path("Protocol/examples/command-preview-cards-remove.json")), as: UTF8.self)
        #expect(decode(cards.replacing("\"days\": 30", with: "\"days\": 13")) == "invalid_field")
        let restart = String(
            decoding: try RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/command-restart-service.json")),
            as: UTF8.self)
        #expect(decode(restart.replacing("\"sidekiq\"", with: "\"postgresql\"")) == "malformed")
    }

    @Test func commandResultRules() throws {
        let bytes = try RepositoryPaths.read(RepositoryPaths.path("Protocol/examples/command-result-refused.json"))
        let text = String(decoding: bytes, as: UTF8.self)
        func decode(_ t: String) -> String? {
            Self.code { _ = try WireCoding.decode(CommandResult.self, from: Array(t.utf8)) }
        }
        #expect(decode(text.replacing("\"refusal\": \"not_allowed\",", with: "")) == "malformed")
        #expect(
            decode(text.replacing("\"outcome\": \"refused\"", with: "\"outcome\": \"succeeded\"")) == "invalid_field")
        #expect(decode(text.replacing("\"outcome\": \"refused\"", with: "\"outcome\": \"exploded\"")) == "malformed")
        #expect(decode(text.replacing("\"not_allowed\"", with: "\"a_newer_reason\"")) == nil)
    }

    @Test func unknownErrorCodesAreKept() throws {
        let body = #"{"error": {"code": "quota_exceeded", "message": "try a smaller report", "extra": 1}}"#
        let response = try WireCoding.decode(ErrorResponse.self, from: Array(body.utf8))
        #expect(response.error.code == WireError.Code("quota_exceeded"))
        #expect(response.error.code.httpStatus == 400)
        #expect(!response.error.code.isRetryable)
    }

    @Test func everyKnownCodeHasAClientErrorOrServerErrorStatus() {
        for code in WireError.Code.known {
            #expect((400...599).contains(code.httpStatus), "\(code)")
            #expect(code.rawValue.allSatisfy { $0.isLowercase || $0 == "_" }, "\(code)")
        }
        #expect(Set(WireError.Code.known.map(\.rawValue)).count == WireError.Code.known.count)
    }

    /// Echoed text cannot forge a log line or drive a terminal: C0, DEL and C1 become escapes, the rest
    /// (accents, emoji) stays as it is.
    @Test func controlCharactersAreEscapedInMessages() {
        #expect("a\nb\rc\td".escapingControlCharacters == "a\\nb\\rc\\td")
        #expect("\u{1b}[31mred\u{7f}\u{85}".escapingControlCharacters == "\\u{1b}[31mred\\u{7f}\\u{85}")
        #expect("café 🐘".escapingControlCharacters == "café 🐘")
        #expect(WireError(.malformed, "payloadType 'a\nb'").message == "payloadType 'a\\nb'")
    }
}
