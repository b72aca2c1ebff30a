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
    /// with tiers, moves records idle for `hotToColdAge` to the cold tier in batches, turns
    /// expired records into tombstones and applies them (see `TieredState` for the order); then
    /// checkpoints when records moved (so their log can go) or the log has grown past
    /// `autoCheckpointLogBytes`.
    @discardableResult
    public func runMaintenance() throws -> MaintenanceReport {
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        try awaitDurable(lastAssignedLSN, sharing: options.syncMode == .group)
        var report = MaintenanceReport()
        if let tiers { try migrateLocked(tiers, &report) }
        if report.moved > 0 || logBytesSinceCheckpoint >= options.autoCheckpointLogBytes {
            try checkpointLocked(dropOlder: false)
            report.checkpointed = true
        }
        report.coldLSN = tiers?.cold.lsn
        return report
    }

    private func migrateLocked(_ tiers: TieredState, _ report: inout MaintenanceReport) throws {
        // Cold commits only ever cover log that is durable (so the cold tier is never ahead of
        // the log a crash leaves); the lock is held from here, so nothing is appended meanwhile.
        try awaitDurable(lastAssignedLSN)
        let now = clock.wallNanoseconds()
        while true {
            let plan = try tiers.planMigration(now: now, limit: tiers.options.migrationBatchSize)
            let expiredInCold = report.coldCommits == 0 ? try tiers.cold.hasExpired(now: now) : false
            guard !plan.isEmpty || !tiers.tombstones.isEmpty || expiredInCold else { break }
            if options.hooks.dropsHotBeforeColdCommit, !plan.records.isEmpty {
                tiers.dropFromHot(plan)
                try checkpointLocked(dropOlder: false)
                try report.add(coldCommitLocked(tiers, plan, alreadyDropped: true))
            } else {
                try report.add(coldCommitLocked(tiers, plan))
            }
            if plan.records.count + plan.expiredIDs.count < tiers.options.migrationBatchSize { break }
        }
    }

    /// One cold-tier transaction at the current LSN; any failure fail-stops (the commit may or
    /// may not have happened, and the cold tier's connection is not trusted again).
    func coldCommitLocked(
        _ tiers: TieredState, _ plan: TieredState.MigrationPlan, alreadyDropped: Bool = false
    ) throws -> ColdTier.CommitResult {
        do {
            return try tiers.commitToCold(plan, lsn: lastAssignedLSN, now: clock.wallNanoseconds(), alreadyDropped: alreadyDropped)
        } catch var error as StoreError {
            error.outcome = .ambiguous
            tiers.cold.close(clean: false)
            throw failStop(error)
        }
    }

    /// At close: the access-time hint and a clean cold-tier close, unless the store failed.
    func closeTiers(_ tiers: TieredState) {
        if failure == nil { writeAccessHint(tiers) }
        tiers.cold.close(clean: failure == nil)
    }

    /// Saves the hot tier's last-access times so record ages survive a restart. Plain write, no
    /// sync: a torn or missing hint only makes records look recently used.
    private func writeAccessHint(_ tiers: TieredState) {
        let path = FilePaths.join(directory, TieredState.accessHintFileName)
        guard let handle = try? fileSystem.open(path, options: [.read, .write, .create, .truncate]) else { return }
        try? handle.write(TieredState.encodeAccessHint(tiers.hot.accessTimes()), at: 0)
        try? handle.close()
    }

    func tierStats(_ tiers: TieredState) throws -> TierStats {
        let cold = try tiers.cold.totals()
        let hot = tiers.hot
        return TierStats(
            hotCount: hot.count, hotResidentCount: hot.residentCount, hotBytes: hot.residentBytes,
            hotPeakBytes: hot.peakResidentBytes, hotBudgetBytes: hot.budget, spilledCount: hot.spilledCount,
            spilledBytes: hot.spilledBytes, spillWrites: hot.spillWrites, spillReloads: hot.spillReloads,
            spillFailures: hot.spillFailures, coldCount: cold.count, coldBytes: cold.bytes, coldLSN: tiers.cold.lsn,
            tombstones: tiers.tombstones.count)
    }
}
