import HerdAgent
import Testing

@Suite struct MultiPatternMatcherTests {
    /// Every occurrence of every pattern, by brute force.
    static func naive(_ patterns: [[UInt8]], _ input: [UInt8]) -> Set<MultiPatternMatcher.Match> {
        var found = Set<MultiPatternMatcher.Match>()
        for (index, pattern) in patterns.enumerated() where pattern.count <= input.count {
            for start in 0...(input.count - pattern.count) where Array(input[start..<start + pattern.count]) == pattern
            {
                found.insert(.init(pattern: index, end: start + pattern.count))
            }
        }
        return found
    }

    @Test func findsOverlappingAndNestedPatterns() {
        let patterns = ["he", "she", "his", "hers", "s"].map { Array($0.utf8) }
        let matcher = MultiPatternMatcher(patterns: patterns)
        let input = Array("ushers said his".utf8)
        #expect(Set(matcher.matches(in: input)) == Self.naive(patterns, input))
        #expect(matcher.matches(in: input).map(\.end) == matcher.matches(in: input).map(\.end).sorted())
    }

    @Test func agreesWithBruteForceOnRandomInput() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            // A small alphabet makes overlaps and shared prefixes common.
            let alphabet: [UInt8] = round % 2 == 0 ? Array("abc".utf8) : Array(0...255)
            func word(_ length: Int) -> [UInt8] {
                (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            }
            let patterns = (0..<Int.random(in: 1...12, using: &generator)).map { _ in
                word(Int.random(in: 1...5, using: &generator))
            }
            let input = word(Int.random(in: 0...300, using: &generator))
            let matcher = MultiPatternMatcher(patterns: patterns)
            let found = matcher.matches(in: input)
            #expect(Set(found) == Self.naive(patterns, input))
            // Each (pattern, end) is reported exactly once, identical patterns under each of their indices.
            #expect(found.count == Self.naive(patterns, input).count)
        }
    }

    @Test func handlesPatternsUsingEveryByteValue() {
        let patterns = (0...255).map { [UInt8($0), UInt8((Int($0) + 1) % 256)] }
        let input = (0..<2000).map { UInt8($0 % 256) }
        let matcher = MultiPatternMatcher(patterns: patterns)
        #expect(Set(matcher.matches(in: input)) == Self.naive(patterns, input))
    }

    @Test func binaryGarbageAndNULsAreJustBytes() {
        let patterns = [Array("Errno::ENOSPC".utf8), [0x00, 0xFF]]
        let input: [UInt8] = [0xFF, 0x00, 0xFF, 0x00] + Array("xErrno::ENOSPCx".utf8) + [0xC3]
        let matcher = MultiPatternMatcher(patterns: patterns)
        #expect(Set(matcher.matches(in: input)) == Self.naive(patterns, input))
        #expect(matcher.matches(in: input).count == 2)
    }
}
