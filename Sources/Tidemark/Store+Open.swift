import TidemarkIO

extension Store {
    /// Opens (creating when missing) the store in `directory`, recovering it: the newest valid
    /// checkpoint, then the log after it. Throws `.corruption` naming file and offset when the log
    /// is damaged anywhere but its unsynced tail (unless `options.salvage`).
    public static func open(
        at directory: String, fileSystem: any FileSystem, clock: any Clock, random: any RandomSource,
        options: StoreOptions = StoreOptions()
    ) throws -> Store {
        try validate(options)
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
        let recovered = try Recovery.run(directory: directory, fileSystem: fileSystem, options: options, clock: clock)
        let tiers = try options.tiers.map {
            try openTiers($0, recovered: recovered, directory: directory, fileSystem: fileSystem, clock: clock, random: random, hooks: options.hooks)
        }
        let store = try Store(
            directory: directory, fileSystem: fileSystem, clock: clock, random: random, options: options,
            recovered: recovered, tiers: tiers)
        store.lock.lock()
        defer { store.lock.unlock() }
        if options.salvage && !recovered.report.lost.isEmpty {
            // Rewrite the store so it is clean again: a checkpoint of what survived, and no
            // damaged file left for the next open to trip over.
            try store.checkpointLocked(dropOlder: true)
        } else if recovered.needsCheckpoint {
            // The replayed state may rest on bytes only the page cache holds (a failed fsync
            // marks them clean; re-syncing reports success without writing them). Make it
            // durable on its own before serving it or writing anything after it. This also
            // rewrites a manifest that still names a damaged checkpoint.
            try store.checkpointLocked(dropOlder: false, force: true)
        } else if let tiers = store.tiers, tiers.hot.dirtyBytes > tiers.hot.budget {
            // More replayed than the budget holds (a smaller budget than the writer's): flush.
            try store.checkpointLocked(dropOlder: false)
        }
        return store
    }

    private static func validate(_ options: StoreOptions) throws {
        guard options.checkpointsKept >= 1 else { throw StoreError(.invalidInput, "checkpointsKept must be at least 1") }
        let alignment = options.sectorAlignment
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
    /// number of records: the cold tier's count and bytes come from its metadata.
    private static func openTiers(
        _ tierOptions: TierOptions, recovered: RecoveredStore, directory: String, fileSystem: any FileSystem,
        clock: any Clock, random: any RandomSource, hooks: ProtocolHooks
    ) throws -> TieredState {
        let coldPath = ColdTier.path(in: directory)
        let checkpointLSN = recovered.report.checkpointLSN ?? 0
        if recovered.state.requiresColdTier, !fileSystem.exists(coldPath) {
            throw StoreError.corruption(
                "the checkpoint at LSN \(checkpointLSN) relies on the cold tier, which is missing", path: coldPath, offset: 0)
        }
        let hintPath = FilePaths.join(directory, TieredState.accessHintFileName)
        var accessTimes: [String: Int64] = [:]
        if fileSystem.exists(hintPath) {
            accessTimes = (try? fileSystem.readFile(hintPath)).flatMap(TieredState.decodeAccessHint) ?? [:]
            do { try fileSystem.remove(hintPath) } catch let error as FileSystemError {
                throw StoreError(.io, "cannot remove the hot tier's access-time hint", path: error.path, cause: error)
            }
        }
        let cold = try ColdTier(
            directory: directory, fileSystem: fileSystem, clock: clock, random: random, synchronous: hooks.coldSynchronous)
        if recovered.state.requiresColdTier, cold.lsn < checkpointLSN {
            throw StoreError.corruption(
                "the cold tier reflects LSN \(cold.lsn), behind the checkpoint at LSN \(checkpointLSN) that relies on it: flushed records are missing",
                path: coldPath, offset: 0)
        }
        if cold.lsn > recovered.lastLSN {
            // Cold commits only cover log that was durable, so the log lost committed frames.
            throw StoreError.corruption(
                "the cold tier reflects LSN \(cold.lsn), beyond the end of the recovered log at LSN \(recovered.lastLSN): committed log frames are missing",
                path: coldPath, offset: 0)
        }
        return TieredState(
            recovered: recovered.state, options: tierOptions, cold: cold, accessTimes: accessTimes, now: clock.wallNanoseconds())
    }
}
