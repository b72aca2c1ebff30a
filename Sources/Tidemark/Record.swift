/// One memory: an id, text content, an embedding vector and JSON metadata, optionally expiring.
public struct Record: Sendable, Hashable {
    /// Non-empty UTF-8, at most `Record.maxIDBytes` bytes.
    public var id: String
    public var content: String
    /// Finite values; its dimension is fixed per store by the first non-empty embedding written.
    /// An empty embedding means "not searchable".
    public var embedding: [Float]
    public var metadata: [String: JSONValue]
    /// Wall-clock expiry in nanoseconds since the Unix epoch (see `Store.put(_:ttl:)`); nil never
    /// expires. Expired records read as absent and are dropped at the next checkpoint.
    public var expiresAt: Int64?

    public static let maxIDBytes = 1024

    public init(
        id: String, content: String = "", embedding: [Float] = [], metadata: [String: JSONValue] = [:],
        expiresAt: Int64? = nil
    ) {
        self.id = id
        self.content = content
        self.embedding = embedding
        self.metadata = metadata
        self.expiresAt = expiresAt
    }

    /// Checks everything that does not depend on the store: id, finiteness of numbers.
    public func validate() throws {
        try Self.validateID(id)
        if let index = embedding.firstIndex(where: { !$0.isFinite }) {
            throw StoreError(.invalidInput, "record '\(id)': embedding[\(index)] is \(embedding[index]), not a finite number")
        }
        if !JSONValue.object(metadata).isFinite {
            throw StoreError(.invalidInput, "record '\(id)': metadata contains a non-finite number")
        }
    }

    public static func validateID(_ id: String) throws {
        if id.isEmpty { throw StoreError(.invalidInput, "record id is empty") }
        if id.utf8.count > maxIDBytes {
            throw StoreError(.invalidInput, "record id is \(id.utf8.count) bytes, more than the limit of \(maxIDBytes)")
        }
    }

    /// Whether the record has expired at wall-clock time `now` (nanoseconds).
    public func isExpired(at now: Int64) -> Bool {
        if let expiresAt { return expiresAt <= now }
        return false
    }
}
