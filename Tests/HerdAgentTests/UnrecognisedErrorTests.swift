import HerdAgent
import HerdProtocol
import Testing

/// An error line that no signature names is never silence: it becomes an `unclassified_error`
/// finding per shape of its message, with a redacted sample.
@Suite struct UnrecognisedErrorTests {
    @Test func unknownErrorsAreFoundPerShapeWithARedactedSample() throws {
        let log = """
            E, [2026-03-02T10:15:01.123456 #1234] ERROR -- : [5f2c] Frobnicator exploded while rendering 42 widgets password=hunter2
            E, [2026-03-02T10:16:01.123456 #1234] ERROR -- : [6a3d] Frobnicator exploded while rendering 97 widgets password=hunter2
            2026/03/02 10:17:00 [error] 812#812: *1 quux subsystem gave up, client: 203.0.113.7
            I, [2026-03-02T10:18:01.123456 #1234]  INFO -- : [7b4e] method=GET path=/health status=200
            """
        let tallies = LogClassifierTests.classify(log).tallies
        #expect(tallies.allSatisfy { $0.category == .unclassifiedError })
        // The two Rails lines differ only in what varies (time, pid, request id, a number): one shape.
        let rails = try #require(tallies.first { $0.signature.hasPrefix("ERROR: ") })
        #expect(rails.count == 2 && rails.firstLine == 1 && rails.lastLine == 2)
        #expect(rails.signature == "ERROR: E, ERROR Frobnicator exploded while rendering")
        #expect(rails.sample.contains("password=[REDACTED]") && !rails.sample.contains("hunter2"))
        let nginx = try #require(tallies.first { $0.signature.hasPrefix("nginx [error]: ") })
        #expect(nginx.count == 1 && nginx.firstLine == 3)
        #expect(tallies.count == 2)
    }

    @Test func aKnownCauseInTheSameEventWinsOverTheMarker() {
        let log = """
            E, [2026-03-02T10:15:01.123456 #1234] ERROR -- : [5f2c] PG::ConnectionBad (could not connect to server)
            E, [2026-03-02T10:15:01.123457 #1234] ERROR -- : [5f2c] something else went wrong
            """
        let tallies = LogClassifierTests.classify(log).tallies
        #expect(tallies.map(\.category) == [.dbConnection])
    }

    @Test func journaldErrorPriorityCountsWithoutAnyMarker() {
        var classifier = LogClassifier()
        classifier.feed(Array("the widget pipeline stalled".utf8), number: 1, errorPriority: true)
        classifier.feed(Array("all is well".utf8), number: 2, errorPriority: false)
        let tallies = classifier.finish()
        #expect(tallies.map(\.signature) == ["journald error priority: the widget pipeline stalled"])
        #expect(tallies.first?.category == .unclassifiedError)
    }

    @Test func shapesAreCappedAndTheRestCountTogether() {
        var classifier = LogClassifier()
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
        var number = 0
        for a in words {
            for b in words.prefix(2) {
                number += 1
                classifier.feed(Array("ERROR \(a) \(b) failed".utf8), number: number)
            }
        }
        let tallies = classifier.finish()
        #expect(tallies.count == LogClassifier.maxShapes + 1)
        #expect(tallies.reduce(0) { $0 + $1.count } == 20)
        #expect(tallies.contains { $0.signature == "ERROR: other shapes" && $0.count == 4 })
    }

    @Test func anOperatorsSignatureWinsOverTheBuiltInMarkers() throws {
        let operators = try SignatureTable.parse("other\tfrobnicator\tFrobnicator exploded\n", source: "ops.tsv")
        let table = SignatureTable.builtIn.appending(operators)
        #expect(table.signatures.last?.category == .unclassifiedError)
        var classifier = LogClassifier(matcher: SignatureMatcher(table: table))
        classifier.feed(Array("E, [2026-03-02T10:15:01 #1] ERROR -- : Frobnicator exploded".utf8), number: 1)
        #expect(classifier.finish().map(\.signature) == ["frobnicator"])
    }

    @Test func journaldPriorityIsReadFromJournalJSON() throws {
        let line = Array(#"{"MESSAGE":"x","PRIORITY":"3","_SYSTEMD_UNIT":"mastodon-web.service"}"#.utf8)
        let entry = try line.withUnsafeBufferPointer { try JournalEntry.parse($0) }
        #expect(entry.priority == 3 && entry.isError)
        let info = Array(#"{"MESSAGE":"x","PRIORITY":"6"}"#.utf8)
        #expect(try info.withUnsafeBufferPointer { try JournalEntry.parse($0) }.isError == false)
    }
}
