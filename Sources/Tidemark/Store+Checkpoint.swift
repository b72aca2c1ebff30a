import TidemarkIO

extension Store {
    /// Writes a checkpoint of the current state and drops the log and checkpoints it makes
    /// unnecessary. Order: log synced, checkpoint file written atomically (temp, sync, rename,
    /// directory sync), manifest replaced atomically, then old files removed.
    public func checkpoint() throws {
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        try checkpointLocked(dropOlder: false)
    }

    /// `force`: write even when the newest checkpoint already covers everything (open uses it
    /// to rewrite a manifest that names a damaged checkpoint).
    func checkpointLocked(dropOlder: Bool, force: Bool = false) throws {
        while syncInProgress { lock.wait() }
        try checkUsable()
        if !dropOlder, !force, checkpoints.first?.lsn == lastAssignedLSN, tiers?.tombstones.isEmpty ?? true { return }  // nothing new to cover
        // A checkpoint never claims more than the log has durably: otherwise a crash could
        // leave a checkpoint ahead of a log whose tail recovery then cuts back.
        try awaitDurable(lastAssignedLSN)
        if log.current.hasFrames { try rotateLocked() }
        let lsn = lastAssignedLSN
        // The cold tier first: every tombstone in it and its LSN at this checkpoint's, so the
        // checkpoint (the hot tier only) plus the cold tier is the whole state at `lsn`.
        if let tiers, !tiers.tombstones.isEmpty || tiers.cold.lsn < lsn { _ = try coldCommitLocked(tiers, .init()) }
        let bytes = CheckpointFile.encode(try records.checkpointImage(now: clock.wallNanoseconds()), lsn: lsn)
        let entry = Manifest.Entry(lsn: lsn, fileChecksum: CRC32C.checksum(bytes))
        let kept = [entry] + (dropOlder ? [] : checkpoints.filter { $0.lsn != lsn }.prefix(options.checkpointsKept - 1))
        if options.hooks.removesSegmentsBeforeCheckpoint { try log.removeSegments(coveredBy: lsn) }
        try writeCheckpoint(entry, bytes, manifest: Manifest(checkpoints: kept))
        let dropped = checkpoints.filter { old in !kept.contains { $0.lsn == old.lsn } }
        checkpoints = kept
        logBytesSinceCheckpoint = 0
        do {
            for old in dropped { try fileSystem.removeIfPresent(FilePaths.join(directory, old.fileName)) }
            try log.removeSegments(coveredBy: kept.last!.lsn)
        } catch let error as FileSystemError {
            throw failStop(StoreError(.io, "removing obsolete files failed", path: error.path, outcome: .ambiguous, cause: error))
        }
    }

    /// The checkpoint file, then the manifest naming it (the commit point), each atomically.
    private func writeCheckpoint(_ entry: Manifest.Entry, _ bytes: [UInt8], manifest: Manifest) throws {
        let checkpointPath = FilePaths.join(directory, entry.fileName)
        let manifestPath = FilePaths.join(directory, StoreFiles.manifest)
        for (path, contents) in [(checkpointPath, bytes), (manifestPath, manifest.encode())] {
            do {
                try fileSystem.writeFileAtomically(path, contents)
            } catch let error as FileSystemError where error.code == .noSpace {
                // Nothing points at the new files yet (the manifest replacement is the commit point).
                try? fileSystem.remove(path + ".tmp")
                if path == manifestPath { try? fileSystem.remove(checkpointPath) }
                throw StoreError(.noSpace, "disk full: checkpoint rejected", path: path, cause: error)
            } catch let error as FileSystemError {
                throw failStop(StoreError(.io, "checkpoint write failed", path: path, outcome: .ambiguous, cause: error))
            }
        }
    }
}
