/// Counters and positions, for tools and the simulator.
public struct StoreStats: Sendable, Hashable, Codable {
    public var recordCount: Int
    public var dimension: Int?
    public var lastAssignedLSN: UInt64
    public var lastDurableLSN: UInt64
    public var segmentCount: Int
    public var logBytes: Int64
    public var checkpointLSN: UInt64?
    public var checkpointCount: Int
    public var syncCount: Int
    public var commitCount: Int
    public var syncMode: SyncMode
    public var failStopped: Bool
    /// The tiers' figures; nil when tiers are off.
    public var tiers: TierStats?
}

/// The tiers' counters and positions (`StoreStats.tiers`), all kept as the store runs (the cold
/// tier's from its metadata): none counts rows.
public struct TierStats: Sendable, Hashable, Codable {
    /// Records in memory: dirty (not yet flushed) and clean (cached cold rows).
    public var hotCount: Int
    /// Encoded bytes of the records in memory: what `hotMemoryBytes` bounds.
    public var hotBytes: Int
    /// The most `hotBytes` seen after any operation since open (recovery included).
    public var hotPeakBytes: Int
    public var hotBudgetBytes: Int
    /// Records written since the last flush to the cold tier, and their bytes.
    public var dirtyCount: Int
    public var dirtyBytes: Int
    /// Clean records dropped from memory since open (for the budget or for age).
    public var evictions: Int
    public var coldCount: Int
    /// Encoded bytes of the cold tier's records.
    public var coldBytes: Int64
    /// The LSN the cold tier reflects.
    public var coldLSN: UInt64
    /// Ids deleted or expired since the last flush (their cold rows go at the next one).
    public var tombstones: Int
}
