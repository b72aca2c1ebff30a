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
    /// The records a search scans, as one state (expired ones may be included: search skips them).
    /// Mutating so the untiered state can keep the vector table it builds for the first search.
    mutating func searchView(now: Int64) throws -> StoreState
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

    mutating func searchView(now: Int64) -> StoreState {
        buildVectorTable()
        return self
    }

    func transactionSnapshot() -> StoreState? { self }

    /// Expired records are dropped first, so they never reach a checkpoint.
    mutating func checkpointImage(now: Int64) -> StoreState {
        dropExpired(now: now)
        return self
    }
}

/// With tiers: the hot tier in memory and spill files, the cold tier in SQLite beneath it.
extension TieredState: RecordSpace {
    func recordCount(now: Int64) throws -> Int {
        var count = 0
        try forEachLive(now: now) { _ in count += 1 }
        return count
    }

    func searchView(now: Int64) throws -> StoreState {
        var view = StoreState()
        view.dimension = dimension
        try forEachLive(now: now) { view.records[$0.id] = $0 }
        return view
    }

    func transactionSnapshot() -> StoreState? { nil }

    /// The hot tier only; the caller has first committed every tombstone to the cold tier at
    /// the checkpoint's LSN (see `checkpointState`).
    func checkpointImage(now: Int64) throws -> StoreState { try checkpointState() }
}
