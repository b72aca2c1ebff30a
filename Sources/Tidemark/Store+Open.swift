import TidemarkIO

extension Store {
    /// Opens (creating when missing, unless read-only) the store in `directory`, recovering it:
    /// the newest valid checkpoint, then the log after it. Throws `.corruption` naming file and
    /// offset when the log is damaged anywhere but its unsynced tail (unless `options.salvage`),
    /// and `.locked` when another writer holds the store (`StoreLock`). `monitor` is the lock and
    /// condition its callers' threads share (the simulator's lets its scheduler interleave them).
    public static func open(
        at directory: String, fileSystem: any FileSystem, clock: any Clock, random: any RandomSource,
        options: StoreOptions = StoreOptions(), monitor: any Monitor = ConditionMonitor()
    ) throws -> Store {
        try validate(options)
        if options.readOnly, !fileSystem.exists(directory) {
            throw StoreError(.notFound, "no store at \(directory)", path: directory)
        }
        do {
            if !fileSystem.exists(directory) {
                try fileSystem.createDirectories(directory)
                try fileSystem.syncDirectory(FilePaths.parent(of: directory))
            }
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot create the store directory", path: directory, cause: error)
        }
        try options.tiers?.validate()
        if options.tiers == nil, fileSystem.exists(ColdTier.path(in: directory)) {
            throw StoreError(
                .invalidInput, "this store has a cold tier (\(ColdTier.fileName)); open it with tiers enabled",
                path: ColdTier.path(in: directory))
        }
        let heldLock = try StoreLock.acquire(directory: directory, fileSystem: fileSystem, options: options)
        var recovered = try Recovery.run(directory: directory, fileSystem: fileSystem, options: options, clock: clock)
        var tierOptions = options.tiers
        if options.readOnly, !fileSystem.exists(ColdTier.path(in: directory)), !recovered.state.requiresColdTier {
            tierOptions = nil  // nothing flushed yet, and a read-only open creates nothing
        }
        var tiers: TieredState?
        do {
            tiers = try tierOptions.map {
                try openTiers($0, recovered: &recovered, directory: directory, fileSystem: fileSystem, clock: clock, random: random, options: options)
            }
        } catch let error as StoreError where options.readOnly && error.code == .notFound && !recovered.state.requiresColdTier {
            tiers = nil  // a cold tier a dead writer never set up holds nothing
        }
        let store = try Store(
            directory: directory, fileSystem: fileSystem, clock: clock, random: random, monitor: monitor, options: options,
            recovered: recovered, tiers: tiers, heldLock: heldLock)
        guard !options.readOnly else { return store }
        store.lock.lock()
        defer { store.lock.unlock() }
        if options.salvage && !recovered.report.lost.isEmpty {
            // Rewrite the store so it is clean again: a checkpoint of what survived, and no
            // damaged file left for the next open to trip over.
            try store.checkpointLocked(dropOlder: true)
            // The loss is accepted: `SYNCED` may no longer claim the LSNs it listed.
            try store.failStopping { try store.log.resetSyncedLSN(to: store.lastAssignedLSN) }
        } else if recovered.needsCheckpoint {
            // A manifest still names a damaged checkpoint (or replayed frames rest on bytes only
            // the page cache may hold, and the log writer could not write them again): make the
            // state durable on its own before serving it or writing anything after it.
            try store.checkpointLocked(dropOlder: false, force: true)
        } else if let tiers = store.tiers, tiers.hot.dirtyBytes > tiers.hot.budget {
            // More replayed than the budget holds (a smaller budget than the writer's): flush.
            try store.checkpointLocked(dropOlder: false)
        }
        // The open succeeded and its report names the possible losses: the record has done its work.
        if recovered.possibleLossRecorded { try PossibleLossRecord.clear(directory: directory, fileSystem: fileSystem) }
        return store
    }

    private static func validate(_ options: StoreOptions) throws {
        guard options.checkpointsKept >= 1 else { throw StoreError(.invalidInput, "checkpointsKept must be at least 1") }
        guard options.syncedLSNRecordIntervalNanoseconds >= 0 else {
            throw StoreError(.invalidInput, "syncedLSNRecordIntervalNanoseconds must be 0 or more, got \(options.syncedLSNRecordIntervalNanoseconds)")
        }
        let alignment = options.sectorAlignment
        if options.readOnly, options.salvage { throw StoreError(.invalidInput, "salvage rewrites the store; it cannot be read-only") }
        guard alignment == 0 || (alignment >= 512 && alignment <= 1 << 20 && alignment & (alignment - 1) == 0) else {
            throw StoreError(.invalidInput, "sectorAlignment must be 0 or a power of two from 512 to 1048576, got \(alignment)")
        }
        guard options.segmentSizeLimit >= Int64(SegmentHeader.size + Frame.headerSize) else {
            throw StoreError(.invalidInput, "segmentSizeLimit \(options.segmentSizeLimit) is too small")
        }
    }

    /// Opens the tiers over a recovered state: reads and removes the access-time hint (a cache,
    /// never trusted across a restart except as a hint), opens the cold tier and checks it
    /// reflects at least the LSN of a checkpoint that relies on it. Nothing here grows with the
    /// number of records: the cold tier's count and bytes come from its metadata. Read-only:
    /// removes nothing. With salvage, a cold tier that is missing or will not open is a listed
    /// loss (its files go to quarantine and a new one starts), one behind the checkpoint too.
    private static func openTiers(
        _ tierOptions: TierOptions, recovered: inout RecoveredStore, directory: String, fileSystem: any FileSystem,
        clock: any Clock, random: any RandomSource, options: StoreOptions
    ) throws -> TieredState {
        let coldPath = ColdTier.path(in: directory)
        let hintPath = FilePaths.join(directory, TieredState.accessHintFileName)
        var accessTimes: [String: Int64] = [:]
        if fileSystem.exists(hintPath) {
            accessTimes = (try? fileSystem.readFile(hintPath)).flatMap(TieredState.decodeAccessHint) ?? [:]
        }
        if !options.readOnly, fileSystem.exists(hintPath) {
            do { try fileSystem.remove(hintPath) } catch let error as FileSystemError {
                throw StoreError(.io, "cannot remove the hot tier's access-time hint", path: error.path, cause: error)
            }
        }
        let cold: ColdTier
        do {
            cold = try openColdTier(recovered: &recovered, directory: directory, fileSystem: fileSystem, clock: clock, random: random, options: options)
        } catch let error as StoreError where options.salvage && error.code == .corruption {
            cold = try salvageColdTier(
                error, recovered: &recovered, directory: directory, fileSystem: fileSystem, clock: clock, random: random, options: options)
        }
        if cold.lsn > recovered.lastLSN {
            // Cold commits only cover log that was durable, so the log lost committed frames.
            throw StoreError.corruption(
                "the cold tier reflects LSN \(cold.lsn), beyond the end of the recovered log at LSN \(recovered.lastLSN): committed log frames are missing",
                path: coldPath, offset: 0)
        }
        return TieredState(
            recovered: recovered.state, options: tierOptions, cold: cold, accessTimes: accessTimes, now: recovered.storeClock.now())
    }

    /// Salvage of a cold tier that is missing, will not open or fails its check: its files move
    /// to quarantine, a new one starts, and every record that still reads in the quarantined
    /// copy is copied into it (`ColdTier.rescue`); each id that does not read is a listed loss.
    private static func salvageColdTier(
        _ error: StoreError, recovered: inout RecoveredStore, directory: String, fileSystem: any FileSystem,
        clock: any Clock, random: any RandomSource, options: StoreOptions
    ) throws -> ColdTier {
        for name in [ColdTier.fileName, ColdTier.fileName + "-wal"] where fileSystem.exists(FilePaths.join(directory, name)) {
            try recovered.quarantine.keep(name, held: "the cold tier: every record as of its last flush", reason: error.message, copy: false)
        }
        recovered.report.quarantineFolder = recovered.quarantine.folder
        recovered.report.quarantinedFiles = recovered.quarantine.entries.map(\.file)
        let cold = try ColdTier(
            directory: directory, fileSystem: fileSystem, clock: clock, random: random, synchronous: options.hooks.coldSynchronous)
        let rescue = try recovered.quarantine.folder.flatMap { folder in
            try ColdTier.rescue(
                from: FilePaths.join(directory, folder), into: cold, dimension: recovered.state.dimension,
                lsn: recovered.report.checkpointLSN ?? 0, fileSystem: fileSystem, clock: clock, random: random, now: recovered.storeClock.now())
        }
        var what = "records flushed to the cold tier and not written since are lost"
        if let rescue, !(rescue.copiedIDs.isEmpty && rescue.lostIDs.isEmpty) {
            what = "\(rescue.copiedIDs.count) records that still read were copied into a new cold tier, \(rescue.lostIDs.count) did not read (listed)"
                + (rescue.unaccounted > 0 ? ", and \(rescue.unaccounted) more that its meta table counts have unreadable ids" : "")
            recovered.report.coldRecordsCopied = rescue.copiedIDs
            recovered.report.coldRecordsLost = rescue.lostIDs
        }
        recovered.report.lost.append(StoreProblem(file: ColdTier.fileName, offset: error.offset ?? 0, message: "\(error.message); \(what); the store continues with a new one"))
        for (id, why) in (rescue?.lostIDs ?? [:]).sorted(by: { $0.key < $1.key }) {
            recovered.report.lost.append(StoreProblem(file: ColdTier.fileName, offset: 0, message: "record '\(id)' lost: \(why)"))
        }
        return cold
    }

    /// The cold tier, checked against the checkpoint that relies on it: missing, unreadable or
    /// behind it is `.corruption` naming `cold.sqlite`.
    private static func openColdTier(
        recovered: inout RecoveredStore, directory: String, fileSystem: any FileSystem, clock: any Clock,
        random: any RandomSource, options: StoreOptions
    ) throws -> ColdTier {
        let coldPath = ColdTier.path(in: directory)
        let checkpointLSN = recovered.report.checkpointLSN ?? 0
        if recovered.state.requiresColdTier, !fileSystem.exists(coldPath) {
            throw StoreError.corruption(
                "the checkpoint at LSN \(checkpointLSN) relies on the cold tier, which is missing", path: coldPath, offset: 0)
        }
        let cold = try ColdTier(
            directory: directory, fileSystem: fileSystem, clock: clock, random: random,
            synchronous: options.hooks.coldSynchronous, readOnly: options.readOnly)
        if options.salvage {
            // Salvage rewrites through the cold tier: find its damage now, not halfway.
            do { try cold.check() } catch { cold.close(clean: false); throw error }
        }
        if recovered.state.requiresColdTier, cold.lsn < checkpointLSN {
            let message = "the cold tier\(ColdTier.walNote(directory, fileSystem)) reflects LSN \(cold.lsn), behind the checkpoint at LSN \(checkpointLSN) that relies on it: flushed records are missing"
            guard options.salvage else {
                cold.close(clean: false)
                throw StoreError.corruption(message, path: coldPath, offset: 0)
            }
            // What it holds is still good: keep it, list the loss; the salvage checkpoint brings
            // it up to date.
            recovered.report.lost.append(StoreProblem(file: ColdTier.fileName, offset: 0, message: message))
        }
        return cold
    }
}

extension ColdTier {
    /// " (with its WAL, cold.sqlite-wal)" when the WAL exists: damage there shows as the
    /// database being behind, and the message should say where to look.
    static func walNote(_ directory: String, _ fileSystem: any FileSystem) -> String {
        fileSystem.exists(path(in: directory) + "-wal") ? " (with its WAL, \(fileName)-wal)" : ""
    }
}
