/// Settings of the hot and cold tiers (`StoreOptions.tiers`).
///
/// The hot tier keeps records in memory up to `hotMemoryBytes`: those written since the last
/// flush to the cold tier (a SQLite database in the store directory) and a cache of cold rows.
/// A commit that would take the unflushed records past the budget flushes first;
/// `runMaintenance()` flushes once one has gone `hotToColdAge` seconds (by the store's `Clock`
/// wall time) without a put or read, and drops cached records idle that long.
public struct TierOptions: Sendable, Hashable, Codable {
    /// Bytes of records (their encoded size) the hot tier keeps in memory.
    public var hotMemoryBytes: Int
    /// Seconds since a record's last put or read after which maintenance flushes it to the cold
    /// tier (and, once there, drops it from memory).
    public var hotToColdAge: Double

    public init(hotMemoryBytes: Int = 64 << 20, hotToColdAge: Double = 300) {
        self.hotMemoryBytes = hotMemoryBytes
        self.hotToColdAge = hotToColdAge
    }

    func validate() throws {
        guard hotMemoryBytes >= 0 else { throw StoreError(.invalidInput, "hotMemoryBytes must not be negative, got \(hotMemoryBytes)") }
        guard hotToColdAge.isFinite, hotToColdAge >= 0, hotToColdAge <= 1e9 else {
            throw StoreError(.invalidInput, "hotToColdAge must be a number of seconds from 0 to 1e9, got \(hotToColdAge)")
        }
    }
}

/// What one `runMaintenance()` pass did.
public struct MaintenanceReport: Sendable, Hashable, Codable {
    /// Records the flush wrote to the cold tier (dirty ones, new or replacing a row).
    public var flushed = 0
    /// Records dropped because their TTL passed (hot records and cold rows).
    public var expired = 0
    /// Cold rows removed for deleted records.
    public var deleted = 0
    /// Clean records dropped from memory for being idle `hotToColdAge` (still in the cold tier).
    public var evicted = 0
    /// Whether the pass checkpointed (with tiers: flushed).
    public var checkpointed = false
    /// The cold tier's LSN afterwards; nil without tiers.
    public var coldLSN: UInt64?

    public init() {}

    mutating func add(_ result: ColdTier.CommitResult) {
        flushed += result.written
        expired += result.expired
        deleted += result.deleted
    }
}
