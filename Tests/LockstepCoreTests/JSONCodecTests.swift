import Foundation
import LockstepTestSupport
import Testing

@testable import LockstepCore

/// The direct JSON parser and printer against Foundation's `JSONDecoder`/`JSONEncoder` over
/// `JSONValue`'s `Codable` conformance, which they replaced on the bus's hot path: the printed bytes
/// must be the encoder's (stored keys and hashes were made from them) and a parse must give the
/// decoder's value, over random values and random spellings of them.
@Suite struct JSONCodecTests {
    static func encoderBytes(_ value: JSONValue) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decoderValue(_ text: String) -> JSONValue? {
        try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test(arguments: 0..<4)
    func printingGivesTheEncodersBytes(seed: UInt64) throws {
        var random = SplitMix64(seed: 0x5EED_0000 + seed)
        for _ in 0..<500 {
            let value = RandomJSON.value(depth: 0, using: &random)
            let expected = try Self.encoderBytes(value)
            #expect(value.canonicalJSON() == expected)
            #expect(value.canonicalJSONBytes() == Array(expected.utf8))
        }
    }

    @Test(arguments: 0..<4)
    func parsingGivesTheDecodersValue(seed: UInt64) throws {
        var random = SplitMix64(seed: 0xDEC0_0000 + seed)
        for _ in 0..<500 {
            let value = RandomJSON.value(depth: 0, using: &random)
            // Spelled as the encoder spells it, and spelled loosely: whitespace, escapes, other
            // number forms.
            for text in [value.canonicalJSON(), RandomJSON.spelling(of: value, using: &random)] {
                let expected = try #require(Self.decoderValue(text), "the decoder refused \(text)")
                #expect(try JSONValue.parse(text) == expected, "\(text)")
            }
        }
    }

    @Test func numbersFollowTheDecodersRule() throws {
        let cases: [(String, JSONValue)] = [
            ("1.0", .int(1)), ("1e2", .int(100)), ("-0", .int(0)), ("-0.0", .int(0)), ("1.5E+2", .int(150)),
            ("1e-400", .int(0)), ("9223372036854775807", .int(.max)), ("-9223372036854775808", .int(.min)),
            ("9223372036854775808", .double(9_223_372_036_854_775_808)), ("-1.5e-3", .double(-0.0015)),
            ("123456789012345678901234567890", .double(1.2345678901234568e29)), ("0.1", .double(0.1)),
        ]
        for (text, value) in cases {
            #expect(try JSONValue.parse(text) == value, "\(text)")
            #expect(Self.decoderValue(text) == value, "the decoder's reading of \(text)")
        }
    }

    @Test func duplicateMembersKeepTheFirstAsTheDecoderDid() throws {
        let text = #"{"a":1,"a":2}"#
        #expect(try JSONValue.parse(text) == ["a": 1])
        #expect(Self.decoderValue(text) == ["a": 1])
    }

    @Test(arguments: [
        ("", 0, "end of input"), ("tru", 0, "expected `true`"), ("[1,]", 3, "expected a value"),
        (#"{"a":1,}"#, 7, "member name"), ("01", 0, "leading zero"), ("1.", 2, "decimal point"), (".5", 0, "expected a value"),
        ("-", 1, "digit after `-`"), ("2e", 2, "exponent"), (#""\ud83d""#, 1, "unpaired surrogate \\uD83D"),
        (#""\udc00x""#, 1, "unpaired surrogate \\uDC00"), ("\"a\u{1}\"", 2, "control character 1"), ("1 2", 2, "after the value"),
        ("1E400", 0, "beyond a 64-bit float's range"), (#""abc"#, 0, "not closed"), (#"{"a" 1}"#, 5, "expected `:`"),
        ("[", 1, "end of input"), (#""\x""#, 1, "unknown escape `\\x`"), (#""\u12G4""#, 5, "four hex digits"),
        ("[1 2]", 3, "expected `,` or `]`"), (#"{"a":1 "b":2}"#, 7, "expected `,` or `}`"),
    ] as [(String, Int, String)])
    func invalidInputIsRefusedSayingWhereAndWhy(text: String, offset: Int, reason: String) {
        #expect {
            try JSONValue.parse(text)
        } throws: { error in
            guard let error = error as? JSONParseError else { return false }
            return error.offset == offset && error.reason.contains(reason)
        }
        // The decoder refused each as well, but for the trailing commas it let through.
        if text != "[1,]" && text != #"{"a":1,}"# { #expect(Self.decoderValue(text) == nil, "\(text)") }
    }

    @Test func invalidUTF8InAStringIsRefused() {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0x5C, 0x6E, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22]] {
            #expect(throws: JSONParseError.self) { try JSONValue.parse(utf8: bytes) }
            #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(bytes))) == nil)
        }
    }

    @Test func nestingIsLimitedTo512Levels() throws {
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        var value = try JSONValue.parse(deepest)
        var depth = 0
        while case .array(let elements) = value { depth += 1; value = elements.first ?? .null }
        #expect(depth == 512)
        let tooDeep = String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513)
        #expect { try JSONValue.parse(tooDeep) } throws: { ($0 as? JSONParseError)?.reason.contains("deeper than 512") == true }
    }

    @Test func aNonFiniteDoubleIsPrintedAsNull() {
        let value: JSONValue = ["ok": 1, "ratio": .double(.nan), "big": .double(.infinity)]
        #expect(value.canonicalJSON() == #"{"big":null,"ok":1,"ratio":null}"#)
    }
}

/// Random JSON values whose strings reach every escape, astral and combining characters and names
/// whose UTF-8 order differs from `String`'s ordering; and random spellings of a value.
enum RandomJSON {
    static let alphabet: [String] = [
        "a", "b", "Z", "_", "0", " ", "/", "\"", "\\", "\n", "\t", "\r", "\u{8}", "\u{C}", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}",
        "é", "e\u{301}", "\u{212B}", "Ç", "ｂ", "\u{2028}", "😀", "𝄞", "中",
    ]

    static func string(using random: inout some RandomNumberGenerator) -> String {
        (0..<Int.random(in: 0...6, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined()
    }

    static func double(using random: inout some RandomNumberGenerator) -> Double {
        switch Int.random(in: 0..<4, using: &random) {
        case 0:
            while true {
                let value = Double(bitPattern: random.next())
                if value.isFinite { return value }
            }
        case 1: return Double(Int.random(in: -1_000_000...1_000_000, using: &random)) / 1000
        case 2: return Double(Int64.random(in: -(1 << 53)...(1 << 53), using: &random))
        default: return [1e15, 1e16, 1e21, 1e-7, 5e-324, 0.1, -0.0, 1.7976931348623157e308].randomElement(using: &random)!
        }
    }

    static func value(depth: Int, using random: inout some RandomNumberGenerator) -> JSONValue {
        let kinds = depth >= 4 ? 5 : 7
        switch Int.random(in: 0..<kinds, using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .int(Bool.random(using: &random) ? Int64.random(in: -1000...1000, using: &random) : Int64.random(in: .min ... .max, using: &random))
        case 3: return .double(double(using: &random))
        case 4: return .string(string(using: &random))
        case 5: return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in value(depth: depth + 1, using: &random) })
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &random) { members[string(using: &random)] = value(depth: depth + 1, using: &random) }
            return .object(members)
        }
    }

    /// The value written another valid way: whitespace between tokens, characters escaped as
    /// `\uXXXX` (surrogate pairs beyond the BMP) or `\/`, integers with an exponent or a fraction.
    static func spelling(of value: JSONValue, using random: inout some RandomNumberGenerator) -> String {
        func space() -> String { ["", " ", "\n", "\t ", "\r\n"].randomElement(using: &random)! }
        switch value {
        case .null, .bool, .double: return space() + value.canonicalJSON() + space()
        case .int(let int):
            switch Int.random(in: 0..<3, using: &random) {
            case 0 where abs(int) < 1_000_000: return "\(int).0"
            case 1 where abs(int) < 1_000_000 && int % 10 == 0: return "\(int / 10)E+1"
            default: return "\(int)"
            }
        case .string(let text): return spelled(text, using: &random)
        case .array(let elements):
            return "[" + space() + elements.map { spelling(of: $0, using: &random) }.joined(separator: "," + space()) + "]"
        case .object(let members):
            return "{" + space() + members.map { spelled($0.key, using: &random) + space() + ":" + spelling(of: $0.value, using: &random) }
                .joined(separator: "," + space()) + space() + "}"
        }
    }

    static func spelled(_ text: String, using random: inout some RandomNumberGenerator) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            let escape = Bool.random(using: &random)
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where escape: out += "\\/"
            case _ where scalar.value < 0x20 || escape:
                for unit in String(scalar).utf16 { out += "\\u" + String(repeating: "0", count: 4 - String(unit, radix: 16).count) + String(unit, radix: 16, uppercase: Bool.random(using: &random)) }
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
