import HerdAgent
import Testing

@Suite struct LogLineTests {
    static func stripped(_ text: String) -> String {
        Array(text.utf8).withUnsafeBufferPointer { line in
            LogLine.withoutANSI(line) { String(decoding: $0, as: UTF8.self) }
        }
    }

    @Test(arguments: [
        ("plain line", "plain line"),
        ("\u{1B}[1;34mINFO \u{1B}[0m pid=1: done", "INFO  pid=1: done"),
        ("\u{1B}[0m\u{1B}[31m", ""),
        ("ends in an escape \u{1B}", "ends in an escape \u{1B}"),
        ("unfinished \u{1B}[12;", "unfinished \u{1B}[12;"),
        ("not CSI \u{1B}]0;title", "not CSI \u{1B}]0;title"),
        ("\u{1B}\u{1B}[1mbold", "\u{1B}bold"),
        ("Errno::EN\u{1B}[31mOSPC", "Errno::ENOSPC"),
    ])
    func colourCodesAreStripped(line: String, expected: String) {
        #expect(Self.stripped(line) == expected)
    }

    @Test func aLongColouredLineIsStrippedWhole() {
        let line = String(repeating: "\u{1B}[1mword\u{1B}[0m ", count: 20_000)
        #expect(Self.stripped(line) == String(repeating: "word ", count: 20_000))
    }
}
