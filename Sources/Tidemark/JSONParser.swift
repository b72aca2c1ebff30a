/// A JSON parser over UTF-8 bytes that accepts exactly what Foundation's `JSONDecoder` accepts
/// when decoding a `JSONValue` (the metadata of every record replayed from the log goes through
/// here, and `JSONDecoder` made up a third of recovery's time). `JSONParserTests` holds the two
/// equal on a corpus of edge cases and on random documents.
///
/// Like `JSONDecoder`: a leading byte-order mark is skipped; one trailing comma is allowed in
/// arrays and objects (`[1,]`, `{"a":1,}`); the first of duplicate keys wins; nesting deeper
/// than 512 is rejected; a number that overflows, or a non-zero one that rounds to zero, is
/// rejected.
struct JSONParser {
    struct SyntaxError: Error {
        var offset: Int
    }

    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private var depth = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses one JSON document: a value with nothing but whitespace around it.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> JSONValue {
        var parser = JSONParser(bytes)
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { parser.position = 3 }
        let value = try parser.value()
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw parser.error() }
        return value
    }

    private func error() -> SyntaxError { SyntaxError(offset: position) }

    private var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ literal: StaticString) throws(SyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - position >= count else { throw error() }
        for index in 0..<count where bytes[position + index] != literal.utf8Start[index] { throw error() }
        position += count
    }

    private mutating func value() throws(SyntaxError) -> JSONValue {
        skipWhitespace()
        guard let first = current else { throw error() }
        switch first {
        case UInt8(ascii: "{"): return .object(try object())
        case UInt8(ascii: "["): return .array(try array())
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error()
        }
    }

    private mutating func enterContainer() throws(SyntaxError) {
        depth += 1
        guard depth <= Self.maxDepth else { throw error() }
        position += 1  // the opening bracket
        skipWhitespace()
    }

    private mutating func array() throws(SyntaxError) -> [JSONValue] {
        try enterContainer()
        defer { depth -= 1 }
        var values: [JSONValue] = []
        if current == UInt8(ascii: "]") {
            position += 1
            return values
        }
        while true {
            values.append(try value())
            if try containerEnds(UInt8(ascii: "]")) { return values }
        }
    }

    private mutating func object() throws(SyntaxError) -> [String: JSONValue] {
        try enterContainer()
        defer { depth -= 1 }
        var values: [String: JSONValue] = [:]
        if current == UInt8(ascii: "}") {
            position += 1
            return values
        }
        while true {
            guard current == UInt8(ascii: "\"") else { throw error() }
            let key = try string()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error() }
            position += 1
            let value = try value()
            if values[key] == nil { values[key] = value }
            if try containerEnds(UInt8(ascii: "}")) { return values }
        }
    }

    /// After an element: true when `closing` ends the container, directly or after one trailing
    /// comma; false after a comma another element follows.
    private mutating func containerEnds(_ closing: UInt8) throws(SyntaxError) -> Bool {
        skipWhitespace()
        if current == UInt8(ascii: ",") {
            position += 1
            skipWhitespace()
        } else if current != closing {
            throw error()
        } else {
            position += 1
            return true
        }
        guard current == closing else { return false }
        position += 1
        return true
    }

    /// A string starting at its opening quote. Control characters must be escaped.
    private mutating func string() throws(SyntaxError) -> String {
        position += 1
        let start = position
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: "\""):
                defer { position += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            case UInt8(ascii: "\\"):
                return try escapedString(from: start)
            case 0..<0x20: throw error()
            default: position += 1
            }
        }
        throw error()
    }

    /// The rest of a string that has escapes, from `start` (just after its opening quote).
    private mutating func escapedString(from start: Int) throws(SyntaxError) -> String {
        var utf8 = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = current else { throw error() }
                position += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"): utf8.append(contentsOf: String(try unicodeEscape()).utf8)
                default: throw error()
                }
            case 0..<0x20: throw error()
            default: utf8.append(byte)
            }
        }
        throw error()
    }

    /// The scalar of a `\u` escape (after the `u`), joining a surrogate pair.
    private mutating func unicodeEscape() throws(SyntaxError) -> Unicode.Scalar {
        let first = try hex4()
        switch first {
        case 0xD800..<0xDC00:
            try expect("\\u")
            let second = try hex4()
            guard (0xDC00..<0xE000).contains(second) else { throw error() }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
        case 0xDC00..<0xE000: throw error()
        default: return Unicode.Scalar(first)!
        }
    }

    private mutating func hex4() throws(SyntaxError) -> UInt32 {
        guard bytes.count - position >= 4 else { throw error() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error()
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, correctly rounded.
    private mutating func number() throws(SyntaxError) -> Double {
        let start = position
        let negative = current == UInt8(ascii: "-")
        if negative { position += 1 }
        let integerStart = position
        guard let first = current, isDigit(first) else { throw error() }
        position += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        let integerDigits = position - integerStart
        var isInteger = true
        var mantissaIsZero = bytes[integerStart..<position].allSatisfy { $0 == UInt8(ascii: "0") }
        if current == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            let fractionStart = position
            guard skipDigits() > 0 else { throw error() }
            mantissaIsZero = mantissaIsZero && bytes[fractionStart..<position].allSatisfy { $0 == UInt8(ascii: "0") }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard skipDigits() > 0 else { throw error() }
        }
        // Up to 15 digits an integer is exact in a Double: no need for the general conversion.
        if isInteger, integerDigits <= 15 {
            var magnitude: Int64 = 0
            for byte in bytes[integerStart..<position] { magnitude = magnitude * 10 + Int64(byte - UInt8(ascii: "0")) }
            return negative ? -Double(magnitude) : Double(magnitude)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite, value != 0 || mantissaIsZero else {
            position = start
            throw error()
        }
        return value
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    @discardableResult
    private mutating func skipDigits() -> Int {
        let start = position
        while let byte = current, isDigit(byte) { position += 1 }
        return position - start
    }
}
