import TidemarkIO

extension Store {
    /// Writes a checkpoint of the current state and drops the log and checkpoints it makes
    /// unnecessary. Order: log synced, (with tiers) the flush of dirty records and tombstones to
    /// the cold tier, checkpoint file written atomically (temp, sync, rename, directory sync),
    /// manifest replaced atomically, then old files removed. With tiers the checkpoint file holds
    /// no records (the cold tier does), so it costs what changed since the last one.
    public func checkpoint() throws {
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        try checkpointLocked(dropOlder: false)
    }

    /// `force`: write even when the newest checkpoint already covers everything (open uses it
    /// to rewrite a manifest that names a damaged checkpoint).
    /// Returns what the flush did (nil without tiers, or when the cold tier already held it all).
    @discardableResult
    func checkpointLocked(dropOlder: Bool, force: Bool = false) throws -> ColdTier.CommitResult? {
        while syncInProgress { lock.wait() }
        try checkUsable()
        if !dropOlder, !force, checkpoints.first?.lsn == lastAssignedLSN, !(try tiers?.hasPendingChanges(now: storeClock.now()) ?? false) { return nil }  // nothing new to cover
        // A checkpoint never claims more than the log has durably: otherwise a crash could
        // leave a checkpoint ahead of a log whose tail recovery then cuts back.
        try awaitDurable(lastAssignedLSN)
        if log.current.hasFrames { try rotateLocked() }
        let lsn = lastAssignedLSN
        // With tiers, the flush first: the cold tier then holds the whole state at `lsn`, and
        // the checkpoint only says so. (The canary writes the checkpoint before the flush.)
        var flush: TieredState.FlushPlan?
        var result: ColdTier.CommitResult?
        if let tiers {
            let plan = tiers.planFlush(now: storeClock.now())
            if options.hooks.dropsHotBeforeColdCommit, !plan.records.isEmpty {
                try coldCommitLocked { try tiers.dropDirtyBeforeCommit(lsn: lsn, now: storeClock.now()) }
                flush = plan
            } else if plan.isEmpty, tiers.cold.lsn == lsn, !(try tiers.hasPendingChanges(now: storeClock.now())) {
                // The cold tier already holds this state.
            } else {
                result = try coldCommitLocked { try tiers.flush(plan, lsn: lsn, now: storeClock.now()) }
            }
        }
        let bytes = CheckpointFile.encode(try records.checkpointImage(now: storeClock.now()), lsn: lsn)
        // A kept checkpoint at this LSN (verified at open or written since) already images this
        // state: rewriting its file in place would leave the durable manifest's checksum naming
        // bytes that are gone. Only the manifest may change. Not for salvage (`dropOlder`): it
        // may have loaded that checkpoint only in part, and rewrites it whole.
        let existing = dropOlder ? nil : checkpoints.first { $0.lsn == lsn }
        let entry = existing ?? Manifest.Entry(lsn: lsn, fileChecksum: CRC32C.checksum(bytes))
        let kept = [entry] + (dropOlder ? [] : checkpoints.filter { $0.lsn != lsn }.prefix(options.checkpointsKept - 1))
        if options.hooks.removesSegmentsBeforeCheckpoint { try log.removeSegments(coveredBy: lsn) }
        if existing == nil {
            try writeCheckpoint(entry, bytes, manifest: Manifest(checkpoints: kept, storeTime: storeClock.now()))
        } else if kept != checkpoints {
            try writeCheckpoint(nil, [], manifest: Manifest(checkpoints: kept, storeTime: storeClock.now()))
        }
        let dropped = checkpoints.filter { old in !kept.contains { $0.lsn == old.lsn } }
        checkpoints = kept
        logBytesSinceCheckpoint = 0
        do {
            for old in dropped { try fileSystem.removeIfPresent(FilePaths.join(directory, old.fileName)) }
            try log.removeSegments(coveredBy: kept.last!.lsn)
        } catch let error as FileSystemError {
            throw failStop(StoreError(.io, "removing obsolete files failed", path: error.path, outcome: .ambiguous, cause: error))
        }
        if let tiers, let flush { result = try coldCommitLocked { try tiers.flush(flush, lsn: lsn, now: storeClock.now()) } }
        return result
    }

    /// The checkpoint file (a new one: `entry` names no kept checkpoint), then the manifest
    /// naming it (the commit point), each atomically. Without `entry`, only the manifest.
    private func writeCheckpoint(_ entry: Manifest.Entry?, _ bytes: [UInt8], manifest: Manifest) throws {
        let checkpointPath = entry.map { FilePaths.join(directory, $0.fileName) }
        let manifestPath = FilePaths.join(directory, StoreFiles.manifest)
        let files = (checkpointPath.map { [($0, bytes)] } ?? []) + [(manifestPath, manifest.encode())]
        for (path, contents) in files {
            do {
                try fileSystem.writeFileAtomically(path, contents)
            } catch let error as FileSystemError where error.code == .noSpace {
                // Nothing points at the new files yet (the manifest replacement is the commit point).
                try? fileSystem.remove(path + ".tmp")
                if path == manifestPath, let checkpointPath { try? fileSystem.remove(checkpointPath) }
                throw StoreError(.noSpace, "disk full: checkpoint rejected", path: path, cause: error)
            } catch let error as FileSystemError {
                throw failStop(StoreError(.io, "checkpoint write failed", path: path, outcome: .ambiguous, cause: error))
            }
        }
    }
}
