import Foundation
import HerdAgent
import Testing

@Suite struct LineReaderTests {
    static func lines(_ data: [UInt8], max: Int = 16) throws -> (lines: [String], truncated: Int) {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let writeEnd = fds[1]
        let writer = Thread {
            data.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let n = write(writeEnd, buffer.baseAddress! + offset, min(7, buffer.count - offset))
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(writeEnd)
        }
        writer.start()
        var reader = LineReader(fd: fds[0], maxLineBytes: max)
        var out: [String] = []
        try reader.forEachLine { line, number in
            #expect(number == out.count + 1)
            out.append(String(decoding: line, as: UTF8.self))
        }
        close(fds[0])
        return (out, reader.truncatedLines)
    }

    @Test func splitsAcrossSmallReads() throws {
        let result = try Self.lines(Array("one\ntwo\n\nfour without newline".utf8), max: 64)
        #expect(result.lines == ["one", "two", "", "four without newline"])
        #expect(result.truncated == 0)
    }

    @Test func cutsLongLinesAndKeepsCounting() throws {
        let long = String(repeating: "a", count: 50)
        let result = try Self.lines(Array("short\n\(long)\nafter\n\(long)".utf8), max: 16)
        #expect(
            result.lines == ["short", String(repeating: "a", count: 16), "after", String(repeating: "a", count: 16)])
        #expect(result.truncated == 2)
    }

    @Test func linesExactlyAtTheCapAreNotCut() throws {
        let exact = String(repeating: "b", count: 16)
        let result = try Self.lines(Array("\(exact)\n\(exact)x\n\(exact)".utf8), max: 16)
        #expect(result.lines == [exact, exact, exact])
        #expect(result.truncated == 1)
    }

    @Test func emptyInputHasNoLines() throws {
        #expect(try Self.lines([]).lines.isEmpty)
    }
}
