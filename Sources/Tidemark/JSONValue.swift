/// A JSON value, as stored in a record's metadata. Numbers are `Double` (exact for integers up
/// to 2^53). Encoding is canonical (object keys sorted, no whitespace) so the same metadata is
/// always the same bytes in the log and in checkpoints.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Parses JSON text (as `JSONDecoder` would, see `JSONParser`). Throws `StoreError`
    /// (`.invalidInput`) naming what is wrong.
    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        do {
            return try text.withUTF8 { utf8 throws(JSONParser.SyntaxError) in try JSONParser.parse(utf8) }
        } catch {
            throw StoreError(.invalidInput, "not valid JSON: \(text.prefix(80))")
        }
    }

    /// Parses a JSON object (metadata). Anything else is `.invalidInput`.
    public static func parseObject(_ text: String) throws -> [String: JSONValue] {
        guard case .object(let object) = try parse(text) else {
            throw StoreError(.invalidInput, "metadata must be a JSON object, got: \(text.prefix(80))")
        }
        return object
    }

    /// Canonical JSON text: sorted keys, no whitespace, integers without a fraction.
    public var jsonText: String {
        var out = ""
        write(to: &out)
        return out
    }

    public var description: String { jsonText }

    /// Whether every number inside is finite (JSON has no NaN or infinity).
    var isFinite: Bool {
        switch self {
        case .null, .bool, .string: true
        case .number(let value): value.isFinite
        case .array(let values): values.allSatisfy(\.isFinite)
        case .object(let values): values.values.allSatisfy(\.isFinite)
        }
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 {
                out += String(Int64(value))
            } else {
                out += "\(value)"
            }
        case .string(let value): Self.writeString(value, to: &out)
        case .array(let values):
            out += "["
            for (index, value) in values.enumerated() {
                if index > 0 { out += "," }
                value.write(to: &out)
            }
            out += "]"
        case .object(let values) where values.isEmpty:
            out += "{}"
        case .object(let values) where values.count == 1:  // nothing to sort
            let (key, value) = values.first!
            out += "{"
            Self.writeString(key, to: &out)
            out += ":"
            value.write(to: &out)
            out += "}"
        case .object(let values):
            out += "{"
            for (index, key) in values.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                Self.writeString(key, to: &out)
                out += ":"
                values[key]!.write(to: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// Canonical JSON text of a metadata object.
    public var jsonText: String { JSONValue.object(self).jsonText }
}
