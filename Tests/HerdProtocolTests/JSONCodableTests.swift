import Foundation
import HerdProtocol
import Testing

/// Codable types read and written by the protocol's own reader and writer: the same strictness as
/// signed messages, errors naming the path, instants as RFC 3339, sorted keys, absent optionals omitted.
@Suite struct JSONCodableTests {
    struct Sample: Codable, Equatable {
        var name: String
        var count: Int
        var at: Date
        var note: String?
        var tags: [String: String]
        var rows: [Row]

        struct Row: Codable, Equatable {
            var ok: Bool
            var share: Double
        }

        enum CodingKeys: String, CodingKey {
            case name, count, at, note, tags, rows
        }
    }

    static let sample = Sample(
        name: "a \"quoted\" /name\n", count: 42, at: Date(timeIntervalSince1970: 1_796_242_744.123), note: nil,
        tags: ["z": "1", "a": "2"], rows: [.init(ok: true, share: 0.25), .init(ok: false, share: -3)])

    @Test func writesSortedKeysInstantsAndNoAbsentOptional() throws {
        let text = String(decoding: try JSONCodable.encode(Self.sample), as: UTF8.self)
        #expect(
            text
                == #"{"at":"2026-12-02T20:19:04.123Z","count":42,"name":"a \"quoted\" /name\n","rows":[{"ok":true,"share":0.25},{"ok":false,"share":-3}],"tags":{"a":"2","z":"1"}}"#
        )
        #expect(try JSONCodable.decode(Sample.self, from: try JSONCodable.encode(Self.sample)) == Self.sample)
    }

    @Test(arguments: [
        (#"{"name":"x","name":"y"}"#, "duplicate key"),
        (#"{"name":"x","count":42,"at":1796242744,"tags":{},"rows":[]}"#, "at: not an RFC 3339 timestamp"),
        (
            #"{"name":"x","count":4.5,"at":"2026-12-02T19:12:24Z","tags":{},"rows":[]}"#,
            "count: expected an integer, found a number"
        ),
        (#"{"name":"x","count":1,"at":"2026-12-02T19:12:24Z","tags":{},"rows":[{"ok":1,"share":0}]}"#, "rows[0].ok"),
        (#"{"count":1,"at":"2026-12-02T19:12:24Z","tags":{},"rows":[]}"#, "name: missing"),
        (#"{"name":"x","count":1,"at":"2026-12-02T19:12:24Z","tags":{},"rows":[]} trailing"#, "after"),
        ("\u{0}\u{7}garbage", "not JSON"),
        (String(repeating: "[", count: 40), "nested deeper"),
    ])
    func refusesWhatTheProtocolRefusesNamingWhere(_ text: String, _ words: String) {
        do {
            _ = try JSONCodable.decode(Sample.self, from: Array(text.utf8))
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.message.contains(words), "\(error.message)")
        }
    }

    @Test func unknownKeysAreSkippedAndNullIsAbsent() throws {
        let text =
            #"{"name":"x","count":1,"at":"2026-12-02T19:12:24Z","note":null,"extra":[1,{"b":2}],"tags":{},"rows":[]}"#
        let decoded = try JSONCodable.decode(Sample.self, from: Array(text.utf8))
        #expect(decoded.note == nil && decoded.name == "x")
    }
}
