/// A transaction's view: the snapshot it started from plus its own writes.
public final class Transaction {
    var batch: WriteBatch
    /// The transaction's own writes (and deletions) over `base`.
    private var view: StoreState
    private let base: (String) throws -> Record?
    var isFinished = false

    init(base: @escaping (String) throws -> Record?, dimension: Int?, now: Int64) {
        self.base = base
        view = StoreState()
        view.dimension = dimension
        batch = WriteBatch(now: now)
    }

    /// The record as this transaction sees it: its own writes, else the store's (a snapshot
    /// taken at the start without tiers; with tiers, the latest committed state).
    public func get(_ id: String) throws -> Record? {
        if view.records[id] != nil { return view.live(id, now: batch.now) }
        if view.deletedIDs?.contains(id) == true { return nil }
        return try base(id)
    }

    public func put(_ record: Record, ttl: Double? = nil) throws {
        try checkOpen()
        try batch.put(record, ttl: ttl)
        let operation = batch.operations.last!
        try view.validate([operation])
        view.apply([operation])
    }

    public func delete(_ id: String) throws {
        try checkOpen()
        try batch.delete(id)
        view.apply([.delete(id: id)])
    }

    private func checkOpen() throws {
        if isFinished { throw StoreError(.invalidInput, "the transaction has already ended") }
    }
}
