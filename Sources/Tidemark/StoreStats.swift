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

/// The tiers' counters and positions (`StoreStats.tiers`).
public struct TierStats: Sendable, Hashable, Codable {
    /// Records in the hot tier, in memory or spilled.
    public var hotCount: Int
    public var hotResidentCount: Int
    /// Encoded bytes of the hot records in memory: what `hotMemoryBytes` bounds.
    public var hotBytes: Int
    /// The most `hotBytes` seen after any operation since open.
    public var hotPeakBytes: Int
    public var hotBudgetBytes: Int
    public var spilledCount: Int
    public var spilledBytes: Int
    public var spillWrites: Int
    public var spillReloads: Int
    /// Spill writes that failed (the record stayed in memory, over budget).
    public var spillFailures: Int
    public var coldCount: Int
    /// Encoded bytes of the cold tier's records.
    public var coldBytes: Int64
    /// The LSN the cold tier reflects.
    public var coldLSN: UInt64
    /// Ids deleted or expired whose cold rows the next cold commit removes.
    public var tombstones: Int
}
