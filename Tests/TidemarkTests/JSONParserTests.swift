import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// `JSONParser` replaced `JSONDecoder` for metadata; it must accept and reject the same texts
/// and produce the same values (numbers bit for bit).
@Suite struct JSONParserTests {
    static func viaDecoder(_ text: String) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }
    static func viaParser(_ text: String) -> JSONValue? { try? JSONValue.parse(text) }

    static func identical(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (.number(let x)?, .number(let y)?): x.bitPattern == y.bitPattern
        case (.array(let x)?, .array(let y)?): x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
        case (.object(let x)?, .object(let y)?): x.count == y.count && x.allSatisfy { identical($0.value, y[$0.key]) }
        default: a == b
        }
    }

    /// `JSONDecoder` rejects a bare `0` followed by an exponent with a non-zero first digit
    /// (`0e1`, while `0e+1`, `-0e1` and `0.0e1` pass): RFC 8259 allows it, and so do we.
    static func hitsDecoderExponentQuirk(_ text: String) -> Bool {
        text.range(of: #"(^|[^0-9.\-])0[eE][1-9]"#, options: .regularExpression) != nil
    }

    static let corpus: [String] = [
        "{}", "[]", "1", "-0", "-0.0", " [1 , 2 ] ", "\t{}\n", "\r\n1\r\n", "\u{feff}{}", " \u{feff}{}", "\u{feff}",
        "{\"a\":1,\"a\":2}", "[1,]", "{\"a\":1,}", "[1 ,]", "{\"a\":1 , }", "[,]", "{,}", "[1,,]", "[1 2]", "{\"a\" 1}",
        "{\"a\":}", "{1:2}", "{\"a\"}", "\"abc", "tru", "nul", "tRue", "nulll", "true", "false", "null", "1 2", "[1]x",
        "01", "-01", "1.", ".5", "+1", "1e", "1.0e", "-", "--1", "-a", "1.e5", "1E+2", "1e00001", "0e0", "0e+1", "-0e1",
        "0.0e1", "1e400", "-1e400", "1e-400", "-1e-400", "0.000e-999", "1e-310", "4.9e-324", "2e-324",
        "2.2250738585072011e-308", "1.7976931348623157e308", "1.7976931348623158e308", "1.8e308",
        "123456789012345", "1234567890123456", "-999999999999999", "-9999999999999999", "9007199254740993",
        "18446744073709551616", "1.000000000000000000000000001", "0.30000000000000004", "Infinity", "NaN",
        "\"\\ud800\"", "\"\\uDFFF\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\ud83d\\ude00\"", "\"\\u00e9\\/\"",
        "\"a\u{01}b\"", "\"\u{7f}é😀\"", "\"\\u0000\"", "\"abc\\", "\"abc\\u12", "\"\\x\"", "\"\\U0041\"", "[\"\\u004\"]",
        "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"", "{\"\":1}", "{\"a\" : [ ] , \"b\":{ }}", "", "  ",
        String(repeating: "[", count: 512) + String(repeating: "]", count: 512),
        String(repeating: "[", count: 513) + String(repeating: "]", count: 513),
        String(repeating: "{\"a\":", count: 512) + "1" + String(repeating: "}", count: 512),
        String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513),
    ]

    @Test func agreesWithJSONDecoderOnEdgeCases() {
        for text in Self.corpus where !Self.hitsDecoderExponentQuirk(text) {
            #expect(Self.identical(Self.viaDecoder(text), Self.viaParser(text)), "\(text.debugDescription.prefix(80))")
        }
    }

    @Test func acceptsAZeroWithAnExponent() throws {
        #expect(Self.hitsDecoderExponentQuirk("0e1"))
        #expect(try JSONValue.parse("[0e1, 0E9]") == .array([.number(0), .number(0)]))
    }

    /// Short random strings over JSON's own characters: mostly invalid, some valid.
    @Test func agreesWithJSONDecoderOnRandomText() {
        let random = SeededRandom(seed: 12)
        let alphabet = Array("{}[],:\"\\ 0123456789.-+eEtrunlfas\u{1}\u{7f}é😀ud8D0\n/bx")
        var checked = 0
        for _ in 0..<30_000 {
            let length = Int(random.next() % 14)
            let text = String((0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
            guard !Self.hitsDecoderExponentQuirk(text) else { continue }
            #expect(Self.identical(Self.viaDecoder(text), Self.viaParser(text)), "\(text.debugDescription)")
            checked += 1
        }
        #expect(checked > 25_000)
    }

    /// Random documents, as the store writes them (canonical text) and as `JSONEncoder` does.
    @Test func agreesWithJSONDecoderOnRandomDocuments() throws {
        let random = SeededRandom(seed: 7)
        func draw(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
        let characters = Array("aé\"\\\n\u{1}😀 z")
        func text() -> String { String((0..<draw(5)).map { _ in characters[draw(characters.count)] }) }
        func value(_ depth: Int) -> JSONValue {
            switch draw(depth > 3 ? 4 : 6) {
            case 0: return .null
            case 1: return .bool(draw(2) == 0)
            case 2:
                let pick = [
                    Double(draw(2001)) - 1000, Double(bitPattern: random.next()),
                    (Double(draw(1 << 20)) / Double(1 << 20) - 0.5) * pow(10, Double(draw(601) - 300)),
                ][draw(3)]
                return .number(pick.isFinite ? pick : 0.5)
            case 3: return .string(text())
            case 4: return .array((0..<draw(4)).map { _ in value(depth + 1) })
            default: return .object(Dictionary((0..<draw(4)).map { _ in (text(), value(depth + 1)) }, uniquingKeysWith: { a, _ in a }))
            }
        }
        for _ in 0..<3_000 {
            let document = value(0)
            let canonical = document.jsonText
            #expect(Self.identical(Self.viaParser(canonical), document), "\(canonical.prefix(120))")
            #expect(Self.identical(Self.viaDecoder(canonical), Self.viaParser(canonical)), "\(canonical.prefix(120))")
            let encoded = String(decoding: try JSONEncoder().encode(document), as: UTF8.self)
            #expect(Self.identical(Self.viaDecoder(encoded), Self.viaParser(encoded)), "\(encoded.prefix(120))")
        }
    }
}
