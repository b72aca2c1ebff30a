/// Puts and deletes collected for one atomic commit.
public struct WriteBatch: Sendable {
    private(set) var operations: [LogOperation] = []
    let now: Int64

    init(now: Int64) { self.now = now }

    /// Adds a put; `ttl` (seconds, > 0) sets the record's expiry.
    public mutating func put(_ record: Record, ttl: Double? = nil) throws {
        var record = record
        if let ttl {
            guard ttl.isFinite, ttl > 0, ttl < 1e9 else {
                throw StoreError(.invalidInput, "record '\(record.id)': ttl must be a positive number of seconds, got \(ttl)")
            }
            record.expiresAt = now + Int64(ttl * 1e9)
        }
        try record.validate()
        operations.append(.put(record))
    }

    public mutating func delete(_ id: String) throws {
        try Record.validateID(id)
        operations.append(.delete(id: id))
    }

    public var count: Int { operations.count }
}
