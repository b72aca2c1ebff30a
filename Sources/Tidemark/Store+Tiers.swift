import TidemarkIO

extension Store {
    /// Starts a `MaintenanceRunner` owned by the store: a plain thread waiting with
    /// `Clock.sleep` (so it works under libfaketime) that calls `runMaintenance()` at once and
    /// then every `interval` seconds until `close()`, reporting each pass to `onPass`. A failed
    /// pass ends the thread. For real-disk use; the simulator calls `runMaintenance()` itself.
    public func startMaintenanceRunner(
        interval: Double, onPass: (@Sendable (Result<MaintenanceReport, StoreError>) -> Void)? = nil
    ) throws {
        guard interval.isFinite, interval > 0, interval <= 1e9 else {
            throw StoreError(.invalidInput, "maintenance interval must be a positive number of seconds up to 1e9, got \(interval)")
        }
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        guard runner == nil else { throw StoreError(.invalidInput, "a maintenance runner is already running") }
        runner = MaintenanceRunner(store: self, clock: clock, intervalNanoseconds: Int64(interval * 1e9), onPass: onPass)
    }

    /// Periodic work for the host to call (or a `MaintenanceRunner`): syncs async-mode commits;
    /// with tiers, flushes (a checkpoint: every dirty record and tombstone into the cold tier,
    /// see `TieredState`) when a dirty record has been idle for `hotToColdAge`, a delete or an
    /// expiry is pending, or the log has grown past `autoCheckpointLogBytes`; then drops clean
    /// records idle that long from memory. Without tiers it checkpoints on log growth only.
    @discardableResult
    public func runMaintenance() throws -> MaintenanceReport {
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        try awaitDurable(lastAssignedLSN, sharing: options.syncMode == .group)
        var report = MaintenanceReport()
        let now = storeClock.now()
        let flushWanted = try tiers?.wantsFlush(now: now) ?? false
        if flushWanted || logBytesSinceCheckpoint >= options.autoCheckpointLogBytes {
            if let result = try checkpointLocked(dropOlder: false) { report.add(result) }
            report.checkpointed = true
        }
        if let tiers { report.evicted = tiers.hot.evictIdle(since: tiers.idleCutoff(now)) }
        report.coldLSN = tiers?.cold.lsn
        return report
    }

    /// One cold-tier transaction; any failure fail-stops (the commit may or may not have
    /// happened, and the cold tier's connection is not trusted again).
    func coldCommitLocked<T>(_ commit: () throws -> T) throws -> T {
        do {
            return try commit()
        } catch var error as StoreError {
            error.outcome = .ambiguous
            tiers?.cold.close(clean: false)
            throw failStop(error)
        }
    }

    /// At close: the access-time hint and a clean cold-tier close, unless the store failed.
    func closeTiers(_ tiers: TieredState) {
        if failure == nil { writeAccessHint(tiers) }
        tiers.cold.close(clean: failure == nil)
    }

    /// Saves the dirty records' last-access times so their ages survive a restart. Plain write,
    /// no sync: a torn or missing hint only makes records look recently used.
    private func writeAccessHint(_ tiers: TieredState) {
        let times = tiers.hot.dirtyAccessTimes()
        guard !times.isEmpty else { return }
        let path = FilePaths.join(directory, TieredState.accessHintFileName)
        guard let handle = try? fileSystem.open(path, options: [.read, .write, .create, .truncate]) else { return }
        try? handle.write(TieredState.encodeAccessHint(times), at: 0)
        try? handle.close()
    }

    func tierStats(_ tiers: TieredState) throws -> TierStats {
        let hot = tiers.hot
        return TierStats(
            hotCount: hot.count, hotBytes: hot.residentBytes, hotPeakBytes: hot.peakResidentBytes, hotBudgetBytes: hot.budget,
            dirtyCount: hot.dirtyCount, dirtyBytes: hot.dirtyBytes, evictions: hot.evictions,
            coldCount: tiers.cold.count, coldBytes: tiers.cold.bytes, coldLSN: tiers.cold.lsn, tombstones: tiers.tombstones.count)
    }
}
