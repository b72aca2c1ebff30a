import Tidemark

/// The JSON shape of a record on the command line: `get --json`, `export` and `import` lines.
///
/// `{"id":…,"content":…,"embedding":[…],"metadata":{…}}`, plus `"expiresAt"` (Unix nanoseconds)
/// when the record expires. `import` also accepts `"ttl"` (seconds from now).
enum RecordJSON {
    static func text(_ record: Record) -> String {
        var out = "{\"id\":" + JSONValue.string(record.id).jsonText
        out += ",\"content\":" + JSONValue.string(record.content).jsonText
        out += ",\"embedding\":[" + record.embedding.map { "\($0)" }.joined(separator: ",") + "]"
        out += ",\"metadata\":" + record.metadata.jsonText
        if let expiresAt = record.expiresAt { out += ",\"expiresAt\":\(expiresAt)" }
        return out + "}"
    }

    /// Parses one import line. Errors say what is wrong; the caller adds the line number.
    static func parse(_ line: String) throws -> (record: Record, ttl: Double?) {
        let value: JSONValue
        do { value = try JSONValue.parse(line) } catch { throw InputError("not valid JSON") }
        guard case .object(let fields) = value else { throw InputError("a record must be a JSON object") }
        let known: Set<String> = ["id", "content", "embedding", "metadata", "ttl", "expiresAt"]
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw InputError("unknown field \"\(unknown)\" (expected \(known.sorted().joined(separator: ", ")))")
        }
        guard case .string(let id)? = fields["id"] else { throw InputError("\"id\" must be a string") }
        var record = Record(id: id)
        switch fields["content"] {
        case nil, .null?: break
        case .string(let content)?: record.content = content
        default: throw InputError("\"content\" must be a string")
        }
        switch fields["embedding"] {
        case nil, .null?: break
        case .array(let values)?:
            record.embedding = try values.enumerated().map { index, value in
                guard case .number(let number) = value, Float(number).isFinite else {
                    throw InputError("\"embedding\"[\(index)] is not a finite 32-bit number: \(value)")
                }
                return Float(number)
            }
        default: throw InputError("\"embedding\" must be an array of numbers")
        }
        switch fields["metadata"] {
        case nil, .null?: break
        case .object(let metadata)?: record.metadata = metadata
        case let other?: throw InputError("\"metadata\" must be a JSON object, got \(other)")
        }
        switch fields["expiresAt"] {
        case nil, .null?: break
        case .number(let nanoseconds)? where nanoseconds.rounded() == nanoseconds && abs(nanoseconds) < 9e18:
            record.expiresAt = Int64(nanoseconds)
        default: throw InputError("\"expiresAt\" must be an integer (Unix nanoseconds)")
        }
        var ttl: Double?
        switch fields["ttl"] {
        case nil, .null?: break
        case .number(let seconds)?: ttl = seconds
        default: throw InputError("\"ttl\" must be a number of seconds")
        }
        return (record, ttl)
    }

    /// Parses `0.1,0.2,...` (spaces allowed).
    static func parseEmbedding(_ csv: String, option: String = "--embedding") throws -> [Float] {
        let parts = csv.split(separator: ",", omittingEmptySubsequences: false)
        return try parts.enumerated().map { index, part in
            let text = part.trimmingCharacters(in: .whitespaces)
            guard let value = Float(text) else {
                throw InputError("\(option): item \(index + 1) ('\(text)') is not a number")
            }
            return value
        }
    }
}

import Foundation
