/// Settings of the hot and cold tiers (`StoreOptions.tiers`).
///
/// The hot tier keeps recently used records in memory up to `hotMemoryBytes`, spilling the
/// least recently used ones to spill files beyond that. `runMaintenance()` moves records not
/// accessed for `hotToColdAge` seconds (by the store's `Clock` wall time) into the cold tier, a
/// SQLite database in the store directory.
public struct TierOptions: Sendable, Hashable, Codable {
    /// Bytes of records (their encoded size) the hot tier keeps in memory.
    public var hotMemoryBytes: Int
    /// Seconds since a record's last put or read after which maintenance moves it to the cold tier.
    public var hotToColdAge: Double
    /// Records moved per cold-tier transaction.
    public var migrationBatchSize: Int

    public init(hotMemoryBytes: Int = 64 << 20, hotToColdAge: Double = 300, migrationBatchSize: Int = 512) {
        self.hotMemoryBytes = hotMemoryBytes
        self.hotToColdAge = hotToColdAge
        self.migrationBatchSize = migrationBatchSize
    }

    func validate() throws {
        guard hotMemoryBytes >= 0 else { throw StoreError(.invalidInput, "hotMemoryBytes must not be negative, got \(hotMemoryBytes)") }
        guard hotToColdAge.isFinite, hotToColdAge >= 0, hotToColdAge <= 1e9 else {
            throw StoreError(.invalidInput, "hotToColdAge must be a number of seconds from 0 to 1e9, got \(hotToColdAge)")
        }
        guard migrationBatchSize >= 1 else { throw StoreError(.invalidInput, "migrationBatchSize must be at least 1") }
    }
}

/// What one `runMaintenance()` pass did.
public struct MaintenanceReport: Sendable, Hashable, Codable {
    /// Records moved from the hot to the cold tier.
    public var moved = 0
    /// Records dropped because their TTL passed (hot records and cold rows).
    public var expired = 0
    /// Cold rows removed for deleted records.
    public var deleted = 0
    /// Cold-tier transactions committed.
    public var coldCommits = 0
    public var checkpointed = false
    /// The cold tier's LSN afterwards; nil without tiers.
    public var coldLSN: UInt64?

    public init() {}

    mutating func add(_ result: ColdTier.CommitResult) {
        moved += result.moved
        expired += result.expired
        deleted += result.deleted
        coldCommits += 1
    }
}
