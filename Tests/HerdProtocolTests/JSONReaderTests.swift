import HerdProtocol
import Testing

/// The reader refuses what a lenient parser would guess at, so two implementations never read one
/// body two ways (duplicate keys, surrogates, number spellings are classic parser-differential bugs).
@Suite struct JSONReaderTests {
    /// Reads `{"v": <value>}` with `read`, returning the value or the error code and message.
    static func read<T>(_ json: String, _ read: (inout JSONReader) throws(WireError) -> T) -> Result<T, WireError> {
        var reader = JSONReader(Array(json.utf8))
        var value: T?
        do throws(WireError) {
            try reader.readObject { r, key throws(WireError) in
                if key == "v" { value = try read(&r) } else { try r.skipValue() }
            }
            try reader.finish()
            return .success(try reader.required(value, "v"))
        } catch {
            return .failure(error)
        }
    }

    static func string(_ json: String) -> Result<String, WireError> {
        read(json) { r throws(WireError) in try r.readString() }
    }

    @Test func decodesEscapes() throws {
        #expect(try Self.string(#"{"v": "a\"b\\c\/d\n\t\r\b\f"}"#).get() == "a\"b\\c/d\n\t\r\u{8}\u{C}")
        #expect(try Self.string(#"{"v": "\u00e9\u20AC"}"#).get() == "é€")
        #expect(try Self.string(#"{"v": "\ud83d\ude00"}"#).get() == "😀")
        #expect(try Self.string(#"{"v": "plain ünïcode 😀"}"#).get() == "plain ünïcode 😀")
    }

    @Test(arguments: [
        #"{"v": "\ud83d"}"#, #"{"v": "\ude00"}"#, #"{"v": "\ud83d\u0041"}"#, #"{"v": "\x41"}"#, #"{"v": "\u12"}"#,
        "{\"v\": \"tab\there\"}", "{\"v\": \"new\nline\"}", #"{"v": "unterminated}"#, #"{"v": 'single'}"#,
    ])
    func refusesBadStrings(json: String) {
        guard case .failure(let error) = Self.string(json) else {
            Issue.record("accepted \(json)")
            return
        }
        #expect(error.code == .malformed)
        #expect(error.message.hasPrefix("v: ") || error.message.hasPrefix("(root)"), "\(error.message)")
    }

    @Test func refusesInvalidUTF8InsideStrings() {
        var bytes = Array(#"{"v": "ab"}"#.utf8)
        bytes.insert(0xC0, at: 8)
        var reader = JSONReader(bytes)
        #expect(throws: WireError.self) {
            try reader.readObject { r, _ throws(WireError) in _ = try r.readString() }
        }
    }

    @Test func refusesDuplicateKeys() throws {
        let result = Self.read(#"{"v": 1, "v": 2}"#) { r throws(WireError) in try r.readDouble() }
        guard case .failure(let error) = result else {
            Issue.record("accepted a duplicate key")
            return
        }
        #expect(error.message == "(root): duplicate key 'v'")
        // The same key in sibling objects is fine.
        let nested = Self.read(#"{"a": {"v": 1}, "v": 2, "b": {"v": 3}}"#) { r throws(WireError) in try r.readDouble() }
        #expect(try nested.get() == 2)
    }

    @Test(arguments: [
        ("0", 0.0), ("-0.5", -0.5), ("1e3", 1000.0), ("2.5E-2", 0.025), ("12345678901234", 12_345_678_901_234),
    ])
    func readsNumbers(text: String, expected: Double) throws {
        #expect(try Self.read("{\"v\": \(text)}") { r throws(WireError) in try r.readDouble() }.get() == expected)
    }

    /// The reader's fast number path must give exactly what a correct strtod gives, for every spelling.
    @Test func numbersMatchTheStandardLibraryBitForBit() throws {
        var generator = SystemRandomNumberGenerator()
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
        }
        var spellings = [
            "0", "-0", "0.0", "0.05", "1.50", "123456789012345678", "1234567890123456789012",
            "0.1", "0.2", "0.3", "9007199254740993", "1e22", "1e23", "1.7976931348623157e308", "5e-324",
            "0.000000000000000000000000001", "4.35", "2.675", "-12.5e-3",
        ]
        for _ in 0..<3000 {
            var text = Bool.random(using: &generator) ? "-" : ""
            let integer = digits(Int.random(in: 1...12, using: &generator))
            text += integer.count > 1 && integer.first == "0" ? "1" + integer.dropFirst() : integer
            if Bool.random(using: &generator) { text += "." + digits(Int.random(in: 1...12, using: &generator)) }
            if Int.random(in: 0..<4, using: &generator) == 0 {
                text += "e\(Int.random(in: -30...30, using: &generator))"
            }
            spellings.append(text)
        }
        for text in spellings {
            let parsed = try Self.read("{\"v\": \(text)}") { r throws(WireError) in try r.readDouble() }.get()
            let expected = try #require(Double(text))
            #expect(parsed.bitPattern == expected.bitPattern, "\(text): \(parsed) vs \(expected)")
        }
    }

    @Test func integersAcrossTypes() throws {
        func read<T: FixedWidthInteger>(_ text: String, _: T.Type) -> T? {
            try? Self.read("{\"v\": \(text)}") { r throws(WireError) in try r.readInteger(T.self, in: T.min...T.max) }
                .get()
        }
        #expect(read("-2147483648", Int32.self) == Int32.min)
        #expect(read("2147483647", Int32.self) == Int32.max)
        #expect(read("2147483648", Int32.self) == nil)
        #expect(read("-2147483649", Int32.self) == nil)
        #expect(read("18446744073709551615", UInt64.self) == UInt64.max)
        #expect(read("18446744073709551616", UInt64.self) == nil)
        #expect(read("-9223372036854775808", Int64.self) == Int64.min)
        #expect(read("-0", UInt64.self) == 0)
        #expect(read("-1", UInt64.self) == nil)
        #expect(read("007", Int.self) == nil)
    }

    @Test(arguments: ["01", "+1", ".5", "1.", "1e", "-", "NaN", "Infinity", "0x10", "--1", "\"1\""])
    func refusesBadNumbers(text: String) {
        guard case .failure(let error) = Self.read("{\"v\": \(text)}", { r throws(WireError) in try r.readDouble() })
        else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.code == .malformed)
    }

    /// Grammatical but beyond what the field holds: `invalid_field`, one rule (Protocol §2).
    @Test(arguments: ["1e999", "-1e400", "1.\(String(repeating: "0", count: 70))1"])
    func outOfRangeNumbersAreInvalidFields(text: String) {
        guard case .failure(let error) = Self.read("{\"v\": \(text)}", { r throws(WireError) in try r.readDouble() })
        else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(error.code == .invalidField && error.message.contains("v: number out of range"), "\(error.message)")
    }

    @Test func integersRefuseFractionsAndRanges() {
        func integer(_ text: String) -> String? {
            switch Self.read("{\"v\": \(text)}", { r throws(WireError) in try r.readInteger(Int.self, in: 1...10) }) {
            case .success: nil
            case .failure(let error): error.code.rawValue
            }
        }
        #expect(integer("5") == nil)
        #expect(integer("5.0") == "malformed")
        #expect(integer("5e0") == "malformed")
        #expect(integer("11") == "invalid_field")
        #expect(integer("-3") == "invalid_field")
        #expect(integer("99999999999999999999999") == "invalid_field")
    }

    @Test func skipsUnknownValuesOfEveryShape() throws {
        let json = #"{"x": {"y": [1, "two", null, true, false, {"z": []}]}, "w": -1.5e-3, "v": "kept"}"#
        #expect(try Self.string(json).get() == "kept")
    }

    @Test(arguments: [#"{"v": "a"} x"#, #"{"v": "a",}"#, #"{"v" "a"}"#, #"{v: "a"}"#, #"{"v": "a""#, "", " "])
    func refusesBrokenStructure(json: String) {
        guard case .failure(let error) = Self.string(json) else {
            Issue.record("accepted \(json)")
            return
        }
        #expect(error.code == .malformed)
    }

    @Test func writerAndReaderAgreeOnAwkwardStrings() throws {
        let awkward = "quote \" backslash \\ nul \u{0} bell \u{7} del \u{7F} newline \n emoji 😀 rtl \u{202E}"
        var writer = JSONWriter()
        writer.object { w in
            w.key("v")
            w.string(awkward)
        }
        let text = String(decoding: writer.bytes, as: UTF8.self)
        #expect(try Self.string(text).get() == awkward)
    }

    @Test func writerSpellsNumbersAsJSON() {
        var writer = JSONWriter()
        writer.array([5121.0, 0.62, -0.0, 1e-5, 1.5e300, 9_007_199_254_740_993.0, -42]) { w, n in w.number(n) }
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "[5121,0.62,0,1e-05,1.5e+300,9007199254740992.0,-42]")
    }
}
