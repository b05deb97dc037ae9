/// The shape of an error line no signature knows: its first words without what changes from one
/// occurrence to the next (timestamps, pids, ids, addresses, numbers), so that one unknown error seen
/// a thousand times is one finding and two different ones are two. Redacted like a sample.
enum UnrecognisedShape {
    static let maxWords = 6
    static let maxWordBytes = 32

    static func of(_ message: [UInt8]) -> String {
        var words: [ArraySlice<UInt8>] = []
        for word in message.prefix(512).split(whereSeparator: { $0 <= 0x20 }) where words.count < maxWords {
            // What varies: anything with a digit; punctuation alone (`--`, `:`, `|`).
            if word.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) { continue }
            if !word.contains(where: { ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A }) { continue }
            words.append(word.prefix(maxWordBytes))
        }
        let shape = Redactor.sample(Array(words.joined(separator: [0x20])), maxBytes: 160)
        return shape.isEmpty ? "(no words)" : shape
    }
}
