/// When a commit is acknowledged relative to `fsync`.
public enum SyncMode: String, Sendable, Hashable, CaseIterable, Codable {
    /// Each commit syncs the log before returning, holding the store lock while it does.
    case immediate
    /// Concurrent commits share one sync: the first waiter syncs for everyone written so far
    /// (leader), the others wait for it (followers). A commit returns only after a sync that
    /// covers it succeeded.
    case group
    /// Commits return once written to the page cache. `sync()`, `checkpoint()`, `close()` and
    /// `runMaintenance()` make them durable.
    case async
}

public struct StoreOptions: Sendable, Hashable {
    public var syncMode: SyncMode
    /// A segment is closed and a new one started once it would grow past this many bytes.
    public var segmentSizeLimit: Int64
    /// How many checkpoints the manifest keeps; recovery falls back to an older one when the
    /// newest is damaged, so the log is kept back to the oldest kept checkpoint.
    public var checkpointsKept: Int
    /// `runMaintenance()` checkpoints once the log written since the last checkpoint exceeds this.
    public var autoCheckpointLogBytes: Int64
    /// Largest log frame payload (one commit) accepted, and believed when reading a length field.
    public var maxFramePayloadBytes: Int
    /// Open despite corruption in the middle of the log: skip the damage, report exactly what
    /// was lost, then rewrite the store (new checkpoint, damaged files removed) so it is clean.
    public var salvage: Bool
    /// The hot/cold tiers (see `TierOptions`); nil keeps every record in memory and in
    /// checkpoints, with no cold tier.
    public var tiers: TierOptions? = nil
    /// The disk's sector size when it lacks powersafe overwrite (a torn write may garble a whole
    /// sector, including bytes written and synced before): every sync then pads the log to a
    /// sector boundary so no later write shares a sector with synced bytes. 0 (the default)
    /// assumes powersafe overwrite, as SQLite's SQLITE_IOCAP_POWERSAFE_OVERWRITE. Costs up to
    /// one sector of log per sync.
    public var sectorAlignment: Int
    /// Open without writing anything: no repairs, no checkpoint at open, no new segment, no
    /// lock file created (a shared lock is taken on an existing `LOCK`). Every write throws
    /// `.invalidInput`. Works on a read-only mount. Not with `salvage`.
    public var readOnly = false
    /// Written into `LOCK` once a writer holds it (e.g. "pid 4242"), so a refused second writer
    /// can name the holder. Empty: nothing to name.
    public var lockOwner = ""
    /// How often, at most, a log sync also records the LSN it made durable in `SYNCED`
    /// (`SyncedLSNRecord`; by the store's monotonic clock; the first sync after open always
    /// does). A log found ending below that LSN lost synced frames: a reported loss, not a torn
    /// tail. Each record costs one small write and fdatasync; 0 records after every sync.
    public var syncedLSNRecordIntervalNanoseconds: Int64 = 1_000_000_000
    package var canary: StoreCanary?

    public init(
        syncMode: SyncMode = .group, segmentSizeLimit: Int64 = 16 << 20, checkpointsKept: Int = 2,
        autoCheckpointLogBytes: Int64 = 64 << 20, maxFramePayloadBytes: Int = 16 << 20, salvage: Bool = false,
        sectorAlignment: Int = 0
    ) {
        self.sectorAlignment = sectorAlignment
        self.syncMode = syncMode
        self.segmentSizeLimit = segmentSizeLimit
        self.checkpointsKept = checkpointsKept
        self.autoCheckpointLogBytes = autoCheckpointLogBytes
        self.maxFramePayloadBytes = maxFramePayloadBytes
        self.salvage = salvage
        self.canary = nil
    }

    package init(syncMode: SyncMode = .group, canary: StoreCanary?) {
        self.init(syncMode: syncMode)
        self.canary = canary
    }
}
