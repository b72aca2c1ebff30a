/// Where the store's records live: all in memory (`StoreState`), or split into a hot and a cold
/// tier (`TieredState`). The commit path, reads and checkpoints go through this protocol; only
/// tier upkeep (migration, the cold tier's lifecycle, tier stats) needs the tiers themselves.
protocol RecordSpace {
    /// Fixed by the first non-empty embedding ever written; survives deletes.
    var dimension: Int? { get }
    /// Checks a commit (dimension agreement, also among its own records) without changing anything.
    func validate(_ operations: [LogOperation]) throws
    /// Applies a logged commit. Never fails.
    mutating func apply(_ operations: [LogOperation], now: Int64)
    /// The newest live version of `id`, nil when absent or expired at `now`.
    func live(_ id: String, now: Int64) throws -> Record?
    /// Every live record once, in no particular order.
    func forEachLive(now: Int64, _ body: (Record) throws -> Void) throws
    /// The record count `stats()` reports.
    func recordCount(now: Int64) throws -> Int
    /// The `k` live records nearest to `query` (see `Store.search`).
    func nearest(to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64) throws -> [SearchResult]
    /// A snapshot for a transaction to read from, or nil when reads must go to the live store
    /// (no snapshot of a store partly on disk).
    func transactionSnapshot() -> StoreState?
    /// The state a checkpoint at this moment holds.
    mutating func checkpointImage(now: Int64) throws -> StoreState
}

/// Without tiers: every record in memory, all of it in each checkpoint.
extension StoreState: RecordSpace {
    mutating func apply(_ operations: [LogOperation], now: Int64) { apply(operations) }

    func forEachLive(now: Int64, _ body: (Record) throws -> Void) throws {
        for record in records.values where !record.isExpired(at: now) { try body(record) }
    }

    /// Every record held, expired or not (a checkpoint drops the expired ones).
    func recordCount(now: Int64) -> Int { records.count }

    func nearest(to query: [Float], k: Int, metric: SearchMetric, filter: [String: JSONValue], now: Int64) throws -> [SearchResult] {
        try Search.nearest(in: self, to: query, k: k, metric: metric, filter: filter, now: now)
    }

    func transactionSnapshot() -> StoreState? { self }

    /// Expired records are dropped first, so they never reach a checkpoint.
    mutating func checkpointImage(now: Int64) -> StoreState {
        dropExpired(now: now)
        return self
    }
}

/// With tiers: the hot tier in memory over the cold tier in SQLite.
extension TieredState: RecordSpace {
    func recordCount(now: Int64) throws -> Int { try recordCount() }

    func transactionSnapshot() -> StoreState? { nil }

    /// No records: the caller has first flushed every dirty record and tombstone to the cold
    /// tier at the checkpoint's LSN (see `checkpointState`).
    func checkpointImage(now: Int64) -> StoreState { checkpointState() }
}
