import Testing

@testable import HerdProtocol

/// The tree `JSONCodable` reads a document into stays small: a body of tiny values (an anonymous
/// enrollment may send 1 MiB of `[0,0,…]`) costs the array's 24 bytes a value, no allocation each.
@Suite struct JSONNodeTests {
    @Test func aValueIsTwentyFourBytesWithNoBoxOfItsOwn() throws {
        #expect(MemoryLayout<JSONNode>.stride <= 24)
        #expect(MemoryLayout<JSONNumber>.size <= 17)
        var reader = JSONReader(Array(("[" + Array(repeating: "0", count: 1000).joined(separator: ",") + "]").utf8))
        guard case .array(let elements) = try JSONNode.read(&reader) else {
            Issue.record("not an array")
            return
        }
        #expect(elements.count == 1000)
    }

    /// Long and large numbers keep their text until a field reads them; small ones are exact.
    @Test(arguments: [
        ("12345678901234567890", nil as Double?, UInt64(12_345_678_901_234_567_890) as UInt64?),
        ("1.5e300", 1.5e300, nil), ("-0", -0.0, 0), ("0.62", 0.62, nil),
        ("9007199254740993", 9_007_199_254_740_992, 9_007_199_254_740_993),
    ])
    func numbersConvertWhereTheyAreRead(text: String, double: Double?, integer: UInt64?) throws {
        var reader = JSONReader(Array(text.utf8))
        guard case .number(let number) = try JSONNode.read(&reader) else {
            Issue.record("not a number")
            return
        }
        if let double { #expect(number.double == double) }
        #expect(number.integer(UInt64.self) == integer)
    }
}
