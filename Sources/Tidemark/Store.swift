import Foundation
import TidemarkIO

/// A durable store of `Record`s: a write-ahead log of segment files, checkpoints named by a
/// manifest, and the live state in memory.
///
/// Every byte goes through the injected `FileSystem`, time through the `Clock`, randomness (segment
/// ids) through the `RandomSource`; the store starts no threads. Thread-safe: one lock guards the
/// state, and in `group` mode it is released while one caller (the leader) syncs for everyone.
///
/// After a failed write or sync the store fails stop: the operation that hit it throws an
/// `ambiguous` error and every later call throws `.failStopped` until the store is reopened.
public final class Store: @unchecked Sendable {
    public let directory: String
    public let options: StoreOptions
    /// What recovery found and did when this store was opened.
    public let recovery: RecoveryReport

    private let fileSystem: any FileSystem
    private let clock: any Clock
    private let random: any RandomSource
    /// Guards everything below; its condition wakes group-commit followers.
    private let lock = NSCondition()

    /// All records when tiers are off; with tiers only the dimension bookkeeping is unused and
    /// records live in `tiers`.
    private var state: StoreState
    /// The hot and cold tiers, when `options.tiers` is set.
    private var tiers: TieredState?
    /// The background thread calling `runMaintenance()` (`startMaintenanceRunner`), stopped at `close()`.
    private var runner: MaintenanceRunner?
    private var lastAssignedLSN: UInt64
    private var durableLSN: UInt64
    /// Completed segments, oldest first (the current one is `writer`).
    private var finishedSegments: [SegmentInfo]
    private var writer: SegmentWriter
    /// Kept checkpoints, newest first.
    private var checkpoints: [Manifest.Entry]
    private var logBytesSinceCheckpoint: Int64 = 0
    private var syncInProgress = false
    private var failure: StoreError?
    private var isClosed = false
    private var syncCount = 0
    private var commitCount = 0

    /// The segment being appended to.
    private struct SegmentWriter {
        var handle: any FileHandleProtocol
        var header: SegmentHeader
        var name: String
        /// Where the next frame goes.
        var tail: Int64
        /// Bytes of this segment known durable; written into each frame (see `Frame`).
        var syncedThrough: Int64
        /// Whether anything follows the header (and its sector padding).
        var hasFrames: Bool
        init(handle: any FileHandleProtocol, header: SegmentHeader, name: String, tail: Int64, syncedThrough: Int64) {
            (self.handle, self.header, self.name, self.tail, self.syncedThrough) = (handle, header, name, tail, syncedThrough)
            hasFrames = false
        }
    }

    // MARK: Opening and closing

    /// Opens (creating when missing) the store in `directory`, recovering it: the newest valid
    /// checkpoint, then the log after it. Throws `.corruption` naming file and offset when the log
    /// is damaged anywhere but its unsynced tail (unless `options.salvage`).
    public static func open(
        at directory: String, fileSystem: any FileSystem, clock: any Clock, random: any RandomSource,
        options: StoreOptions = StoreOptions()
    ) throws -> Store {
        guard options.checkpointsKept >= 1 else { throw StoreError(.invalidInput, "checkpointsKept must be at least 1") }
        let alignment = options.sectorAlignment
        guard alignment == 0 || (alignment >= 512 && alignment <= 1 << 20 && alignment & (alignment - 1) == 0) else {
            throw StoreError(.invalidInput, "sectorAlignment must be 0 or a power of two from 512 to 1048576, got \(alignment)")
        }
        guard options.segmentSizeLimit >= Int64(SegmentHeader.size + Frame.headerSize) else {
            throw StoreError(.invalidInput, "segmentSizeLimit \(options.segmentSizeLimit) is too small")
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
        let recovered = try Recovery.run(directory: directory, fileSystem: fileSystem, options: options, clock: clock)
        let tiers = try options.tiers.map {
            try openTiers($0, recovered: recovered, directory: directory, fileSystem: fileSystem, clock: clock, random: random, canary: options.canary)
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
        }
        return store
    }

    /// Opens the tiers over a recovered state: removes spill files and the access-time hint
    /// (caches, never trusted across a restart except as a hint), opens the cold tier and checks
    /// it reflects at least the LSN of a checkpoint that relies on it.
    private static func openTiers(
        _ tierOptions: TierOptions, recovered: RecoveredStore, directory: String, fileSystem: any FileSystem,
        clock: any Clock, random: any RandomSource, canary: StoreCanary?
    ) throws -> TieredState {
        let coldPath = ColdTier.path(in: directory)
        let checkpointLSN = recovered.report.checkpointLSN ?? 0
        if recovered.state.requiresColdTier, !fileSystem.exists(coldPath) {
            throw StoreError.corruption(
                "the checkpoint at LSN \(checkpointLSN) relies on the cold tier, which is missing", path: coldPath, offset: 0)
        }
        let hintPath = FilePaths.join(directory, TieredState.accessHintFileName)
        var accessTimes: [String: Int64] = [:]
        do {
            _ = try HotTier.removeLeftoverSpillFiles(storeDirectory: directory, fileSystem: fileSystem)
            if fileSystem.exists(hintPath) {
                accessTimes = (try? fileSystem.readFile(hintPath)).flatMap(TieredState.decodeAccessHint) ?? [:]
                try fileSystem.remove(hintPath)
            }
        } catch let error as FileSystemError {
            throw StoreError(.io, "cannot remove the hot tier's cache files", path: error.path, cause: error)
        }
        let cold = try ColdTier(
            directory: directory, fileSystem: fileSystem, clock: clock, random: random,
            synchronous: canary == .coldSynchronousOff ? "OFF" : "FULL")
        if recovered.state.requiresColdTier, cold.lsn < checkpointLSN {
            throw StoreError.corruption(
                "the cold tier reflects LSN \(cold.lsn), behind the checkpoint at LSN \(checkpointLSN) that relies on it: migrated records are missing",
                path: coldPath, offset: 0)
        }
        if cold.lsn > recovered.lastLSN {
            // Cold commits only cover log that was durable, so the log lost committed frames.
            throw StoreError.corruption(
                "the cold tier reflects LSN \(cold.lsn), beyond the end of the recovered log at LSN \(recovered.lastLSN): committed log frames are missing",
                path: coldPath, offset: 0)
        }
        let hot = HotTier(budget: tierOptions.hotMemoryBytes, fileSystem: fileSystem, storeDirectory: directory)
        return TieredState(
            recovered: recovered.state, options: tierOptions, hot: hot, cold: cold, accessTimes: accessTimes,
            now: clock.wallNanoseconds())
    }

    private init(
        directory: String, fileSystem: any FileSystem, clock: any Clock, random: any RandomSource,
        options: StoreOptions, recovered: RecoveredStore, tiers: TieredState?
    ) throws {
        self.directory = directory
        self.fileSystem = fileSystem
        self.clock = clock
        self.random = random
        self.options = options
        self.recovery = recovered.report
        state = tiers == nil ? recovered.state : StoreState()
        state.deletedIDs = nil
        self.tiers = tiers
        lastAssignedLSN = recovered.lastLSN
        durableLSN = recovered.lastLSN
        checkpoints = recovered.checkpoints
        // Append only where every byte before is proven synced: frames written after bytes that
        // later vanish (a failed fsync marks pages clean; re-syncing does not write them) would
        // leave a hole that reads as corruption. Otherwise start a fresh segment.
        var segments = recovered.segments
        if let resumable = recovered.resumable, let last = segments.popLast() {
            let path = FilePaths.join(directory, last.name)
            do {
                let handle = try fileSystem.open(path, options: .readWrite)
                if try handle.size() > resumable.offset {
                    // Drop the close marker (the only bytes past the proven end), durably.
                    try handle.truncate(to: resumable.offset)
                    try handle.syncData()
                }
                writer = SegmentWriter(
                    handle: handle, header: resumable.header, name: last.name, tail: resumable.offset,
                    syncedThrough: resumable.offset)
                writer.hasFrames = true
            } catch let error as FileSystemError {
                throw StoreError(.io, "cannot reopen the log segment for appending", path: path, outcome: .ambiguous, cause: error)
            }
        } else {
            writer = try Self.startSegment(
                firstLSN: recovered.lastLSN + 1, directory: directory, fileSystem: fileSystem, random: random,
                options: options)
        }
        finishedSegments = segments
        logBytesSinceCheckpoint = finishedSegments.reduce(writer.tail) { $0 + $1.size }
    }

    /// Makes everything durable (`sync()`), then writes and syncs a close marker (a padding
    /// frame claiming the whole log synced) so the next open knows the log's tail is durable
    /// and need not checkpoint. Later calls throw `.closed`. After a fail-stop nothing is synced
    /// or marked: the next open cannot trust the tail and checkpoints what it replays.
    public func close() throws {
        // Before taking the lock: the runner may be waiting for it.
        lock.lock()
        let runner = self.runner
        self.runner = nil
        lock.unlock()
        runner?.stop()
        lock.lock()
        defer { lock.unlock() }
        guard !isClosed else { return }
        defer {
            isClosed = true
            try? writer.handle.close()
            if let tiers {
                if failure == nil { writeAccessHint(tiers) }
                tiers.cold.close(clean: failure == nil)
            }
        }
        guard failure == nil else { return }
        try awaitDurable(lastAssignedLSN)
        guard writer.hasFrames else { return }
        // The marker's claim is true whether or not the marker reaches the disk (it is written
        // only after the sync above succeeded), so it is best effort: without it the next open
        // just checkpoints. With `sectorAlignment` the sync left the tail on a sector boundary.
        let marker = Frame.encode(
            kind: .padding, lsn: lastAssignedLSN + 1, syncedThrough: UInt64(writer.tail), payload: [],
            segmentID: writer.header.segmentID)
        if (try? writer.handle.write(marker, at: writer.tail)) != nil { try? writer.handle.syncData() }
    }

    deinit {
        // Dropped without close (a simulated crash, or a caller that forgot): nothing more may
        // reach the files.
        tiers?.cold.close(clean: false)
    }

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
        try checkUsable()
        guard runner == nil else { throw StoreError(.invalidInput, "a maintenance runner is already running") }
        runner = MaintenanceRunner(store: self, clock: clock, intervalNanoseconds: Int64(interval * 1e9), onPass: onPass)
    }

    /// Saves the hot tier's last-access times so record ages survive a restart. Plain write, no
    /// sync: a torn or missing hint only makes records look recently used.
    private func writeAccessHint(_ tiers: TieredState) {
        let path = FilePaths.join(directory, TieredState.accessHintFileName)
        guard let handle = try? fileSystem.open(path, options: [.read, .write, .create, .truncate]) else { return }
        try? handle.write(TieredState.encodeAccessHint(tiers.hot.accessTimes()), at: 0)
        try? handle.close()
    }

    // MARK: Writing

    /// Stores `record`, replacing any record with its id. With `ttl` (seconds), it expires then.
    public func put(_ record: Record, ttl: Double? = nil) throws {
        var batch = WriteBatch(now: clock.wallNanoseconds())
        try batch.put(record, ttl: ttl)
        try commit(batch.operations)
    }

    /// Removes the record; returns whether it was there. Writes nothing when it was not.
    @discardableResult
    public func delete(_ id: String) throws -> Bool {
        try Record.validateID(id)
        guard try get(id) != nil else { return false }
        try commit([.delete(id: id)])
        return true
    }

    /// Applies every put and delete `body` adds, atomically: after a crash all of them or none.
    /// If `body` throws, nothing is written.
    public func batch(_ body: (inout WriteBatch) throws -> Void) throws {
        var batch = WriteBatch(now: clock.wallNanoseconds())
        try body(&batch)
        guard !batch.operations.isEmpty else { return }
        try commit(batch.operations)
    }

    /// Runs `body` with a transaction that reads a snapshot taken at its start plus its own
    /// writes; commits its writes atomically when `body` returns, discards them when it throws.
    /// Concurrent transactions are not checked for conflicts: the last commit wins.
    public func transaction<Result>(_ body: (Transaction) throws -> Result) throws -> Result {
        let now = clock.wallNanoseconds()
        let base: (String) throws -> Record?
        if tiers != nil {
            // No snapshot of a store partly on disk: reads see the latest committed state.
            try withUsableStore {}
            base = { [unowned self] id in try self.get(id) }
        } else {
            let snapshot: StoreState = try withUsableStore { state }
            base = { id in snapshot.live(id, now: now) }
        }
        let transaction = Transaction(base: base, dimension: try withUsableStore { tiers?.dimension ?? state.dimension }, now: now)
        let result = try body(transaction)
        transaction.isFinished = true
        if !transaction.batch.operations.isEmpty { try commit(transaction.batch.operations) }
        return result
    }

    /// Makes every commit so far durable (one sync, shared with concurrent committers).
    public func sync() throws {
        lock.lock()
        defer { lock.unlock() }
        try checkUsable()
        try awaitDurable(lastAssignedLSN, sharing: options.syncMode == .group)
    }

    /// Writes a checkpoint of the current state and drops the log and checkpoints it makes
    /// unnecessary. Order: log synced, checkpoint file written atomically (temp, sync, rename,
    /// directory sync), manifest replaced atomically, then old files removed.
    public func checkpoint() throws {
        lock.lock()
        defer { lock.unlock() }
        try checkUsable()
        try checkpointLocked(dropOlder: false)
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
        try checkUsable()
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
            if options.canary == .dropHotBeforeColdDurable, !plan.records.isEmpty {
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
    private func coldCommitLocked(_ tiers: TieredState, _ plan: TieredState.MigrationPlan, alreadyDropped: Bool = false) throws -> ColdTier.CommitResult {
        do {
            return try tiers.commitToCold(plan, lsn: lastAssignedLSN, now: clock.wallNanoseconds(), alreadyDropped: alreadyDropped)
        } catch var error as StoreError {
            error.outcome = .ambiguous
            tiers.cold.close(clean: false)
            throw failStop(error)
        }
    }

    // MARK: Reading

    /// The record with this id, or nil when absent or expired.
    public func get(_ id: String) throws -> Record? {
        let now = clock.wallNanoseconds()
        return try withUsableStore {
            if let tiers { return try tiers.live(id, now: now) }
            return state.live(id, now: now)
        }
    }

    /// Every live record, sorted by id.
    public func allRecords() throws -> [Record] {
        let now = clock.wallNanoseconds()
        return try withUsableStore { try liveRecordsLocked(now: now) }.sorted { $0.id < $1.id }
    }

    private func liveRecordsLocked(now: Int64) throws -> [Record] {
        guard let tiers else { return state.records.values.filter { !$0.isExpired(at: now) } }
        var records: [Record] = []
        try tiers.forEachLive(now: now) { records.append($0) }
        return records
    }

    /// The `k` records nearest to `embedding` by `metric`, exactly (a full scan), best first;
    /// only records whose metadata has every key of `filter` with an equal value.
    public func search(
        embedding: [Float], k: Int, metric: SearchMetric = .cosine, filter: [String: JSONValue] = [:]
    ) throws -> [SearchResult] {
        let now = clock.wallNanoseconds()
        let snapshot: StoreState = try withUsableStore {
            guard let tiers else { return state }
            var view = StoreState()
            view.dimension = tiers.dimension
            try tiers.forEachLive(now: now) { view.records[$0.id] = $0 }
            return view
        }
        return try Search.nearest(in: snapshot, to: embedding, k: k, metric: metric, filter: filter, now: now)
    }

    public func stats() throws -> StoreStats {
        lock.lock()
        defer { lock.unlock() }
        if isClosed { throw StoreError(.closed, "the store is closed") }
        var recordCount = state.records.count
        var tierStats: TierStats?
        if let tiers {
            recordCount = 0
            try tiers.forEachLive(now: clock.wallNanoseconds()) { _ in recordCount += 1 }
            let cold = try tiers.cold.totals()
            tierStats = TierStats(
                hotCount: tiers.hot.count, hotResidentCount: tiers.hot.residentCount, hotBytes: tiers.hot.residentBytes,
                hotPeakBytes: tiers.hot.peakResidentBytes, hotBudgetBytes: tiers.hot.budget,
                spilledCount: tiers.hot.spilledCount, spilledBytes: tiers.hot.spilledBytes,
                spillWrites: tiers.hot.spillWrites, spillReloads: tiers.hot.spillReloads, spillFailures: tiers.hot.spillFailures,
                coldCount: cold.count, coldBytes: cold.bytes, coldLSN: tiers.cold.lsn, tombstones: tiers.tombstones.count)
        }
        return StoreStats(
            recordCount: recordCount, dimension: tiers?.dimension ?? state.dimension, lastAssignedLSN: lastAssignedLSN,
            lastDurableLSN: durableLSN, segmentCount: finishedSegments.count + 1,
            logBytes: finishedSegments.reduce(writer.tail) { $0 + $1.size }, checkpointLSN: checkpoints.first?.lsn,
            checkpointCount: checkpoints.count, syncCount: syncCount, commitCount: commitCount,
            syncMode: options.syncMode, failStopped: failure != nil, tiers: tierStats)
    }

    /// Checks every file of this store (see `Store.verify(at:fileSystem:)`).
    public func verify() throws -> VerificationReport {
        lock.lock()
        defer { lock.unlock() }
        if isClosed { throw StoreError(.closed, "the store is closed") }
        return try Verification.run(directory: directory, fileSystem: fileSystem, options: options)
    }

    /// Checks every file of the store in `directory` without changing anything: the manifest,
    /// every kept checkpoint, every frame of every segment, LSN continuity. Lists each problem
    /// with its file and byte offset.
    public static func verify(
        at directory: String, fileSystem: any FileSystem, options: StoreOptions = StoreOptions()
    ) throws -> VerificationReport {
        try Verification.run(directory: directory, fileSystem: fileSystem, options: options)
    }

    // MARK: Commit protocol

    private func commit(_ operations: [LogOperation]) throws {
        for case .put(let record) in operations { try record.validate() }
        let payload = RecordCoding.encode(operations)
        guard payload.count <= options.maxFramePayloadBytes else {
            throw StoreError(.invalidInput, "commit is \(payload.count) bytes, more than the limit of \(options.maxFramePayloadBytes)")
        }
        lock.lock()
        defer { lock.unlock() }
        try checkUsable()
        let frameSize = Int64(Frame.headerSize + payload.count)
        while writer.hasFrames && writer.tail + frameSize > options.segmentSizeLimit {
            if syncInProgress {
                lock.wait()
                try checkUsable()
                continue
            }
            try rotateLocked()
        }
        if let tiers { try tiers.validate(operations) } else { try state.validate(operations) }
        let lsn = try appendLocked(payload)
        if let tiers { tiers.apply(operations, now: clock.wallNanoseconds()) } else { state.apply(operations) }
        commitCount += 1
        switch options.syncMode {
        case .immediate:
            if options.canary == .acknowledgeBeforeSync { return }
            try awaitDurable(lsn)
        case .group:
            try awaitDurable(lsn, sharing: true)
        case .async:
            return
        }
    }

    /// Writes one frame at the tail. On ENOSPC the tail is cut back so no partial frame stays
    /// to be overwritten halfway, and the commit is rejected; any other failure fail-stops.
    private func appendLocked(_ payload: [UInt8]) throws -> UInt64 {
        let lsn = lastAssignedLSN + 1
        let frame = Frame.encode(
            kind: .commit, lsn: lsn, syncedThrough: UInt64(writer.syncedThrough), payload: payload,
            segmentID: writer.header.segmentID)
        do {
            try writer.handle.write(frame, at: writer.tail)
        } catch let error as FileSystemError where error.code == .noSpace {
            // The cut must be durable: a partial frame that survives a power loss while the
            // truncate does not would sit inside the segment once more frames follow it.
            do {
                try writer.handle.truncate(to: writer.tail)
                try writer.handle.syncData()
            } catch let truncateError as FileSystemError {
                throw failStop(StoreError(
                    .io, "disk full, and cutting the partial frame back failed", path: writer.handle.path,
                    offset: writer.tail, outcome: .ambiguous, cause: truncateError))
            }
            throw StoreError(.noSpace, "disk full: commit rejected", path: writer.handle.path, offset: writer.tail, cause: error)
        } catch let error as FileSystemError {
            throw failStop(StoreError(
                .io, "log write failed", path: writer.handle.path, offset: writer.tail, outcome: .ambiguous, cause: error))
        }
        writer.tail += Int64(frame.count)
        writer.hasFrames = true
        logBytesSinceCheckpoint += Int64(frame.count)
        lastAssignedLSN = lsn
        return lsn
    }

    /// Returns once a successful sync covers `lsn`. With `sharing` (group commit) the lock is
    /// released during the sync so later commits can be written meanwhile and share the next
    /// one; without, it is held, so nothing is appended between the sync and what follows it
    /// (immediate mode, rotation, checkpoints, close).
    private func awaitDurable(_ lsn: UInt64, sharing: Bool = false) throws {
        while durableLSN < lsn {
            if let failure { throw failure.forInFlightOperation }
            if syncInProgress {
                lock.wait()
                continue
            }
            try padToSectorLocked()
            let target = lastAssignedLSN
            let tail = writer.tail
            let handle = writer.handle
            let segmentID = writer.header.segmentID
            syncInProgress = true
            if sharing { lock.unlock() }
            var syncError: FileSystemError?
            do { try handle.syncData() } catch let error as FileSystemError { syncError = error } catch {}
            if sharing { lock.lock() }
            syncInProgress = false
            lock.broadcast()
            if let syncError {
                if options.canary == .retryFailedSync, (try? handle.syncData()) != nil {
                    // Canary: the retry "works" and the data the failed sync dropped is forgotten.
                } else {
                    throw failStop(StoreError(
                        .io, "log sync failed", path: handle.path, outcome: .ambiguous, cause: syncError))
                }
            }
            syncCount += 1
            durableLSN = max(durableLSN, target)
            if writer.header.segmentID == segmentID { writer.syncedThrough = max(writer.syncedThrough, tail) }
        }
    }

    /// Without powersafe overwrite a torn write may garble a whole sector, including the synced
    /// bytes of earlier frames sharing it. With `sectorAlignment`, every sync first pads the
    /// log to a sector boundary, so no later write touches a sector holding synced bytes.
    private func padToSectorLocked() throws {
        let padding = Frame.padding(
            at: writer.tail, alignment: options.sectorAlignment, nextLSN: lastAssignedLSN + 1,
            syncedThrough: UInt64(writer.syncedThrough), segmentID: writer.header.segmentID)
        guard !padding.isEmpty else { return }
        do {
            try writer.handle.write(padding, at: writer.tail)
        } catch let error as FileSystemError {
            // Commits waiting for this sync are written but now cannot be made durable.
            throw failStop(StoreError(
                .io, "writing sector padding failed", path: writer.handle.path, offset: writer.tail, outcome: .ambiguous,
                cause: error))
        }
        writer.tail += Int64(padding.count)
    }

    /// Finishes the current segment (synced: recovery treats damage in any finished segment as
    /// corruption) and starts the next.
    private func rotateLocked() throws {
        while syncInProgress { lock.wait() }
        try checkUsable()
        try awaitDurable(lastAssignedLSN)
        let next: SegmentWriter
        do {
            next = try Self.startSegment(
                firstLSN: lastAssignedLSN + 1, directory: directory, fileSystem: fileSystem, random: random,
                options: options)
        } catch let error as StoreError where error.outcome == .ambiguous {
            throw failStop(error)
        }
        try? writer.handle.close()  // synced above; close errors carry no data
        finishedSegments.append(SegmentInfo(name: writer.name, firstLSN: writer.header.firstLSN, size: writer.tail))
        writer = next
    }

    /// Creates a segment durably: header written and synced, then the directory synced, before
    /// any frame can be acknowledged in it. With `sectorAlignment` the header is padded to a
    /// whole sector so no frame write shares its sector. On ENOSPC the file is removed and the
    /// error is `rejected`; other failures are `ambiguous`.
    private static func startSegment(
        firstLSN: UInt64, directory: String, fileSystem: any FileSystem, random: any RandomSource, options: StoreOptions
    ) throws -> SegmentWriter {
        let canary = options.canary
        let header = SegmentHeader(segmentID: random.next(), firstLSN: firstLSN)
        let start = header.encode() + Frame.padding(
            at: Int64(SegmentHeader.size), alignment: options.sectorAlignment, nextLSN: firstLSN, syncedThrough: 0,
            segmentID: header.segmentID)
        let name = StoreFiles.segmentName(firstLSN: firstLSN)
        let path = FilePaths.join(directory, name)
        var handle: (any FileHandleProtocol)?
        do {
            let file = try fileSystem.open(path, options: [.read, .write, .create, .truncate])
            handle = file
            try file.write(start, at: 0)
            try file.sync()
            if canary != .skipDirectorySyncOnNewSegment { try fileSystem.syncDirectory(directory) }
            return SegmentWriter(
                handle: file, header: header, name: name, tail: Int64(start.count), syncedThrough: Int64(start.count))
        } catch let error as FileSystemError {
            try? handle?.close()
            if error.code == .noSpace, (try? fileSystem.remove(path)) != nil {
                throw StoreError(.noSpace, "disk full: cannot start a new log segment", path: path, cause: error)
            }
            throw StoreError(.io, "cannot create log segment", path: path, outcome: .ambiguous, cause: error)
        }
    }

    // MARK: Checkpoints

    /// `force`: write even when the newest checkpoint already covers everything (open uses it
    /// to rewrite a manifest that names a damaged checkpoint).
    private func checkpointLocked(dropOlder: Bool, force: Bool = false) throws {
        while syncInProgress { lock.wait() }
        try checkUsable()
        if !dropOlder, !force, checkpoints.first?.lsn == lastAssignedLSN, tiers?.tombstones.isEmpty ?? true { return }  // nothing new to cover
        // A checkpoint never claims more than the log has durably: otherwise a crash could
        // leave a checkpoint ahead of a log whose tail recovery then cuts back.
        try awaitDurable(lastAssignedLSN)
        if writer.hasFrames { try rotateLocked() }
        let lsn = lastAssignedLSN
        let bytes: [UInt8]
        if let tiers {
            // The cold tier first: every tombstone in it and its LSN at this checkpoint's, so the
            // checkpoint (the hot tier only) plus the cold tier is the whole state at `lsn`.
            if !tiers.tombstones.isEmpty || tiers.cold.lsn < lsn { _ = try coldCommitLocked(tiers, .init()) }
            bytes = CheckpointFile.encode(try tiers.checkpointState(), lsn: lsn)
        } else {
            state.dropExpired(now: clock.wallNanoseconds())
            bytes = CheckpointFile.encode(state, lsn: lsn)
        }
        let entry = Manifest.Entry(lsn: lsn, fileChecksum: CRC32C.checksum(bytes))
        let kept = [entry] + (dropOlder ? [] : checkpoints.filter { $0.lsn != lsn }.prefix(options.checkpointsKept - 1))
        if options.canary == .removeSegmentsBeforeCheckpointDurable { try removeSegments(coveredBy: lsn) }

        let checkpointPath = FilePaths.join(directory, entry.fileName)
        let manifestPath = FilePaths.join(directory, StoreFiles.manifest)
        for (path, contents) in [(checkpointPath, bytes), (manifestPath, Manifest(checkpoints: kept).encode())] {
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
        let dropped = checkpoints.filter { old in !kept.contains { $0.lsn == old.lsn } }
        checkpoints = kept
        logBytesSinceCheckpoint = 0
        do {
            for old in dropped { try removeIfPresent(FilePaths.join(directory, old.fileName)) }
            try removeSegments(coveredBy: kept.last!.lsn)
        } catch let error as FileSystemError {
            throw failStop(StoreError(.io, "removing obsolete files failed", path: error.path, outcome: .ambiguous, cause: error))
        }
    }

    /// Removes finished segments whose every frame is at or below `lsn`.
    private func removeSegments(coveredBy lsn: UInt64) throws {
        var removed = false
        while let first = finishedSegments.first {
            let nextFirstLSN = finishedSegments.count > 1 ? finishedSegments[1].firstLSN : writer.header.firstLSN
            guard nextFirstLSN - 1 <= lsn else { break }
            try removeIfPresent(FilePaths.join(directory, first.name))
            finishedSegments.removeFirst()
            removed = true
        }
        if removed { try fileSystem.syncDirectory(directory) }
    }

    private func removeIfPresent(_ path: String) throws {
        do { try fileSystem.remove(path) } catch let error as FileSystemError where error.code == .notFound {}
    }

    // MARK: State checks

    private func checkUsable() throws {
        if isClosed { throw StoreError(.closed, "the store is closed") }
        if let failure {
            throw StoreError(
                .failStopped, "the store stopped after an I/O failure (\(failure.message)); reopen it",
                path: failure.path, offset: failure.offset, cause: failure.cause)
        }
    }

    private func withUsableStore<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try checkUsable()
        return try body()
    }

    /// Records the failure that stops the store, and returns it for the operation that hit it.
    private func failStop(_ error: StoreError) -> StoreError {
        if failure == nil { failure = error }
        lock.broadcast()
        return error
    }
}

extension StoreError {
    /// The failure as seen by an operation that was already written when it happened.
    fileprivate var forInFlightOperation: StoreError {
        var copy = self
        copy.outcome = .ambiguous
        copy.message = "a sync covering this commit failed; it may or may not be durable (\(message))"
        return copy
    }
}

/// Puts and deletes collected for one atomic commit.
public struct WriteBatch: Sendable {
    private(set) var operations: [LogOperation] = []
    let now: Int64

    init(now: Int64) { self.now = now }

    /// Adds a put; `ttl` (seconds, > 0) sets the record's expiry.
    public mutating func put(_ record: Record, ttl: Double? = nil) throws {
        var record = record
        if let ttl {
            guard ttl.isFinite, ttl > 0, ttl < 1e9 else {
                throw StoreError(.invalidInput, "record '\(record.id)': ttl must be a positive number of seconds, got \(ttl)")
            }
            record.expiresAt = now + Int64(ttl * 1e9)
        }
        try record.validate()
        operations.append(.put(record))
    }

    public mutating func delete(_ id: String) throws {
        try Record.validateID(id)
        operations.append(.delete(id: id))
    }

    public var count: Int { operations.count }
}

/// A transaction's view: the snapshot it started from plus its own writes.
public final class Transaction {
    fileprivate var batch: WriteBatch
    /// The transaction's own writes (and deletions) over `base`.
    private var view: StoreState
    private let base: (String) throws -> Record?
    fileprivate var isFinished = false

    fileprivate init(base: @escaping (String) throws -> Record?, dimension: Int?, now: Int64) {
        self.base = base
        view = StoreState()
        view.dimension = dimension
        batch = WriteBatch(now: now)
    }

    /// The record as this transaction sees it: its own writes, else the store's (a snapshot
    /// taken at the start without tiers; with tiers, the latest committed state).
    public func get(_ id: String) throws -> Record? {
        if view.records[id] != nil { return view.live(id, now: batch.now) }
        if view.deletedIDs?.contains(id) == true { return nil }
        return try base(id)
    }

    public func put(_ record: Record, ttl: Double? = nil) throws {
        try checkOpen()
        try batch.put(record, ttl: ttl)
        let operation = batch.operations.last!
        try view.validate([operation])
        view.apply([operation])
    }

    public func delete(_ id: String) throws {
        try checkOpen()
        try batch.delete(id)
        view.apply([.delete(id: id)])
    }

    private func checkOpen() throws {
        if isFinished { throw StoreError(.invalidInput, "the transaction has already ended") }
    }
}

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
