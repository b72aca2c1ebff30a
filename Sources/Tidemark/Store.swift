import Foundation
import TidemarkIO

/// A durable store of `Record`s: a write-ahead log of segment files, checkpoints named by a
/// manifest, and the live state in memory.
///
/// Every byte goes through the injected `FileSystem`, time through the `Clock`, randomness (segment
/// ids) through the `RandomSource`, synchronisation through the `Monitor`; the store starts no
/// threads. Thread-safe: the monitor's lock guards the state, and in `group` mode it is released
/// while one caller (the leader) syncs for everyone.
///
/// After a failed write or sync the store fails stop: the operation that hit it throws an
/// `ambiguous` error and every later call throws `.failStopped` until the store is reopened.
///
/// Aspects: opening (`Store+Open`), checkpoints (`Store+Checkpoint`), tiers and maintenance
/// (`Store+Tiers`); the log's write side is `LogWriter`, the records `RecordSpace`.
public final class Store: @unchecked Sendable {
    public let directory: String
    public let options: StoreOptions
    /// What recovery found and did when this store was opened.
    public let recovery: RecoveryReport

    let fileSystem: any FileSystem
    let clock: any Clock
    /// The store's time (expiry, TTLs, ages): the wall clock, never running backwards.
    let storeClock: StoreClock
    let random: any RandomSource
    /// Guards everything below; its condition wakes group-commit followers.
    let lock: any Monitor

    /// The records: all in memory (`StoreState`), or the tiers.
    var records: any RecordSpace
    /// The hot and cold tiers, when `options.tiers` is set (the same object as `records`).
    let tiers: TieredState?
    /// The background thread calling `runMaintenance()` (`startMaintenanceRunner`), stopped at `close()`.
    var runner: MaintenanceRunner?
    /// The log's write side; nil when read-only (every write path checks `checkWritable` first).
    var writer: LogWriter?
    var log: LogWriter {
        get { writer! }
        _modify { yield &writer! }
    }
    /// The segments recovery found, for `stats` of a read-only store.
    private let recoveredSegments: [SegmentInfo]
    /// `LOCK`, held (exclusive; shared when read-only) until `close()` or the end of the process.
    private var heldLock: (any FileHandleProtocol)?
    var lastAssignedLSN: UInt64
    var durableLSN: UInt64
    /// Kept checkpoints, newest first.
    var checkpoints: [Manifest.Entry]
    /// The durable end the manifest last recorded at a clean close (`recordDurableEnd`).
    var manifestDurableLSN: UInt64
    var logBytesSinceCheckpoint: Int64 = 0
    var syncInProgress = false
    var failure: StoreError?
    var isClosed = false
    var syncCount = 0
    var commitCount = 0
    /// Told the segment and the end offset of every commit frame once written (before any sync):
    /// the simulator's checker asks its disk whether an interrupted commit was already durable.
    package var commitFrameWritten: ((_ path: String, _ end: Int64) -> Void)?

    init(
        directory: String, fileSystem: any FileSystem, clock: any Clock, random: any RandomSource, monitor: any Monitor,
        options: StoreOptions, recovered: RecoveredStore, tiers: TieredState?, heldLock: (any FileHandleProtocol)?
    ) throws {
        self.heldLock = heldLock
        lock = monitor
        recoveredSegments = recovered.segments
        self.directory = directory
        self.fileSystem = fileSystem
        self.clock = clock
        storeClock = recovered.storeClock
        self.random = random
        self.options = options
        self.recovery = recovered.report
        var state = recovered.state
        state.deletedIDs = nil
        records = tiers ?? state
        self.tiers = tiers
        lastAssignedLSN = recovered.lastLSN
        durableLSN = recovered.lastLSN
        checkpoints = recovered.checkpoints
        manifestDurableLSN = recovered.manifestDurableLSN
        if !options.readOnly {
            writer = try LogWriter(recovered: recovered, directory: directory, fileSystem: fileSystem, random: random, options: options)
        }
        logBytesSinceCheckpoint = writer?.totalBytes ?? 0
    }

    /// Makes everything durable (`sync()`), then writes and syncs a close marker (a padding
    /// frame claiming the log synced) so the next open knows the log's tail is durable and need
    /// not checkpoint; a failed marker write or sync throws `.io` (the store is still closed).
    /// Later calls throw `.closed`. After a fail-stop nothing is synced
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
            writer?.closeFile()
            if let tiers {
                // Read-only: fenced, so SQLite writes nothing on the way down.
                if options.readOnly { tiers.cold.close(clean: false) } else { closeTiers(tiers) }
            }
            try? heldLock?.close()
            heldLock = nil
        }
        guard failure == nil, writer != nil else { return }
        // Waiting for another caller's sync releases the lock, and commits appended meanwhile
        // need a sync of their own: loop until one covers the last LSN.
        while durableLSN < lastAssignedLSN { try awaitDurable(lastAssignedLSN) }
        // With `sectorAlignment` the sync above left the tail on a sector boundary.
        if log.current.hasFrames {
            do { try log.writeCloseMarker(nextLSN: lastAssignedLSN + 1) } catch let error as FileSystemError {
                // The log is synced, but the marker may claim it on the disk or not: no durable
                // end goes into the manifest, and the caller hears of the failure.
                throw StoreError(.io, "writing the close marker failed", path: error.path, outcome: .ambiguous, cause: error)
            }
        }
        recordDurableEnd()
    }

    /// Best effort at a clean close, once everything is synced: the manifest records the last
    /// LSN, so recovery can tell a log cut back below it (a lost file, a truncated segment) from
    /// a torn tail, and the store's time, so an expiry this process saw holds after a restart
    /// with a clock stepped back. Failing only leaves the older, smaller claims.
    private func recordDurableEnd() {
        let time = storeClock.now()
        guard lastAssignedLSN > max(manifestDurableLSN, checkpoints.first?.lsn ?? 0) || time > storeClock.recoveredFloor else { return }
        // Everything through the last LSN is synced by now; after a salvage that may be less than
        // the loss it accepted once recorded.
        let manifest = Manifest(checkpoints: checkpoints, durableLSN: lastAssignedLSN, storeTime: time)
        if (try? fileSystem.writeFileAtomically(FilePaths.join(directory, StoreFiles.manifest), manifest.encode())) != nil {
            manifestDurableLSN = lastAssignedLSN
        }
    }

    deinit {
        // Dropped without close (a simulated crash, or a caller that forgot): nothing more may
        // reach the files.
        tiers?.cold.close(clean: false)
    }

    // MARK: Writing

    /// Stores `record`, replacing any record with its id. With `ttl` (seconds), it expires then.
    public func put(_ record: Record, ttl: Double? = nil) throws {
        var batch = WriteBatch(now: storeClock.now())
        try batch.put(record, ttl: ttl)
        try commit(batch.operations, time: batch.now)
    }

    /// Removes the record; returns whether it was there. Writes nothing when it was not.
    @discardableResult
    public func delete(_ id: String) throws -> Bool {
        try Record.validateID(id)
        guard try get(id) != nil else { return false }
        try commit([.delete(id: id)], time: storeClock.now())
        return true
    }

    /// Applies every put and delete `body` adds, atomically: after a crash all of them or none.
    /// If `body` throws, nothing is written.
    public func batch(_ body: (inout WriteBatch) throws -> Void) throws {
        var batch = WriteBatch(now: storeClock.now())
        try body(&batch)
        guard !batch.operations.isEmpty else { return }
        try commit(batch.operations, time: batch.now)
    }

    /// Runs `body` with a transaction that reads a snapshot taken at its start plus its own
    /// writes; commits its writes atomically when `body` returns, discards them when it throws.
    /// Concurrent transactions are not checked for conflicts: the last commit wins. With tiers
    /// there is no snapshot: reads see the latest committed state.
    public func transaction<Result>(_ body: (Transaction) throws -> Result) throws -> Result {
        let now = storeClock.now()
        let (snapshot, dimension) = try withUsableStore { (records.transactionSnapshot(), records.dimension) }
        let base: (String) throws -> Record?
        if let snapshot {
            base = { id in snapshot.live(id, now: now) }
        } else {
            base = { [unowned self] id in try self.get(id) }
        }
        let transaction = Transaction(base: base, dimension: dimension, now: now)
        let result = try body(transaction)
        transaction.isFinished = true
        if !transaction.batch.operations.isEmpty { try commit(transaction.batch.operations, time: transaction.batch.now) }
        return result
    }

    /// Makes every commit so far durable (one sync, shared with concurrent committers).
    public func sync() throws {
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        try awaitDurable(lastAssignedLSN, sharing: options.syncMode == .group)
    }

    // MARK: Reading

    /// The store's time (`StoreClock`): what expiry is decided by now. For the simulator's model.
    package var currentTime: Int64 { storeClock.now() }

    /// The record with this id, or nil when absent or expired.
    public func get(_ id: String) throws -> Record? {
        let now = storeClock.now()
        return try withUsableStore { try records.live(id, now: now) }
    }

    /// Every live record, sorted by id.
    public func allRecords() throws -> [Record] {
        let now = storeClock.now()
        return try withUsableStore {
            var live: [Record] = []
            try records.forEachLive(now: now) { live.append($0) }
            return live
        }.sorted { $0.id < $1.id }
    }

    /// The `k` records nearest to `embedding` by `metric`, exactly (a full scan), best first;
    /// only records whose metadata has every key of `filter` with an equal value.
    public func search(
        embedding: [Float], k: Int, metric: SearchMetric = .cosine, filter: [String: JSONValue] = [:]
    ) throws -> [SearchResult] {
        let now = storeClock.now()
        // Without tiers the scan runs on a snapshot outside the lock; the tiers are scanned in
        // place (the cold tier's connection and the hot tier are the lock's).
        let snapshot: StoreState? = try withUsableStore {
            records.prepareForSearch()
            guard let snapshot = records.transactionSnapshot() else { return nil }
            return snapshot
        }
        if let snapshot { return try snapshot.nearest(to: embedding, k: k, metric: metric, filter: filter, now: now) }
        return try withUsableStore { try records.nearest(to: embedding, k: k, metric: metric, filter: filter, now: now) }
    }

    public func stats() throws -> StoreStats {
        lock.lock()
        defer { lock.unlock() }
        if isClosed { throw StoreError(.closed, "the store is closed") }
        let recordCount = try records.recordCount(now: storeClock.now())
        return StoreStats(
            recordCount: recordCount, dimension: records.dimension, lastAssignedLSN: lastAssignedLSN,
            lastDurableLSN: durableLSN, segmentCount: writer.map { $0.finished.count + 1 } ?? recoveredSegments.count,
            logBytes: writer?.totalBytes ?? recoveredSegments.reduce(0) { $0 + $1.size },
            checkpointLSN: checkpoints.first?.lsn, checkpointCount: checkpoints.count, syncCount: syncCount,
            commitCount: commitCount, syncMode: options.syncMode, failStopped: failure != nil,
            tiers: try tiers.map(tierStats))
    }

    /// Checks every file of this store (see `Store.verify(at:fileSystem:)`).
    public func verify() throws -> VerificationReport {
        lock.lock()
        defer { lock.unlock() }
        if isClosed { throw StoreError(.closed, "the store is closed") }
        return try Verification.run(directory: directory, fileSystem: fileSystem, options: options)
    }

    /// Checks every file of the store in `directory` without changing anything: the manifest,
    /// every kept checkpoint, every frame of every segment, LSN continuity, the cold tier. Lists
    /// each problem with its file and byte offset. Takes a shared lock as a read-only open does
    /// (`.locked` while a writer has the store open).
    public static func verify(
        at directory: String, fileSystem: any FileSystem, options: StoreOptions = StoreOptions()
    ) throws -> VerificationReport {
        var readOnly = options
        readOnly.readOnly = true
        let heldLock = try StoreLock.acquire(directory: directory, fileSystem: fileSystem, options: readOnly)
        defer { try? heldLock?.close() }
        return try Verification.run(directory: directory, fileSystem: fileSystem, options: options)
    }

    // MARK: Commit protocol

    /// Validate, append one frame, apply, then wait for durability as the sync mode says. The
    /// frame records `time`, the store's time the commit used, for recovery's floor.
    private func commit(_ operations: [LogOperation], time: Int64) throws {
        for case .put(let record) in operations { try record.validate() }
        let payload = RecordCoding.encode(operations, time: time)
        guard payload.count <= options.maxFramePayloadBytes else {
            throw StoreError(.invalidInput, "commit is \(payload.count) bytes, more than the limit of \(options.maxFramePayloadBytes)")
        }
        lock.lock()
        defer { lock.unlock() }
        try checkWritable()
        while log.needsRotation(forFrameOf: Int64(Frame.headerSize + payload.count)) {
            if syncInProgress {
                lock.wait()
                try checkUsable()
                continue
            }
            try rotateLocked()
        }
        try records.validate(operations)
        // Memory pressure: dirty records may not outgrow the hot budget, and only a flush (a
        // checkpoint) makes them evictable. The frame's size bounds the records it adds.
        if let tiers, tiers.needsFlush(adding: payload.count) { try checkpointLocked(dropOlder: false) }
        let lsn = lastAssignedLSN + 1
        logBytesSinceCheckpoint += try failStopping { try log.append(payload, lsn: lsn) }
        lastAssignedLSN = lsn
        commitFrameWritten?(log.current.handle.path, log.current.tail)
        records.apply(operations, now: storeClock.now())
        commitCount += 1
        switch options.syncMode {
        case .immediate:
            if options.hooks.syncsBeforeAcknowledging { try awaitDurable(lsn) }
        case .group:
            try awaitDurable(lsn, sharing: true)
        case .async:
            return
        }
    }

    /// Returns once a successful sync covers `lsn`. With `sharing` (group commit) the lock is
    /// released during the sync so later commits can be written meanwhile and share the next
    /// one; without, it is held, so nothing is appended between the sync and what follows it
    /// (immediate mode, rotation, checkpoints, close).
    func awaitDurable(_ lsn: UInt64, sharing: Bool = false) throws {
        while durableLSN < lsn {
            if let failure { throw failure.forInFlightOperation }
            if syncInProgress {
                lock.wait()
                if !options.hooks.rechecksAfterWakeup, failure == nil { return }
                continue
            }
            try failStopping { try log.padToSector(nextLSN: lastAssignedLSN + 1) }
            let target = lastAssignedLSN
            let (handle, tail, segmentID) = (log.current.handle, log.current.tail, log.current.header.segmentID)
            syncInProgress = true
            if sharing { lock.unlock() }
            var syncError: FileSystemError?
            do { try handle.syncData() } catch let error as FileSystemError { syncError = error } catch {}
            if sharing { lock.lock() }
            syncInProgress = false
            lock.broadcast()
            if let syncError, !options.hooks.forgivesFailedSync(retry: { (try? handle.syncData()) != nil }) {
                throw failStop(StoreError(.io, "log sync failed", path: handle.path, outcome: .ambiguous, cause: syncError))
            }
            // Another fsync of this descriptor failed while this one ran unlocked (a follower's
            // ENOSPC cut): with errseq it may have taken the writeback error this sync would
            // have reported, so this success proves nothing.
            if let failure { throw failure.forInFlightOperation }
            syncCount += 1
            durableLSN = max(durableLSN, options.hooks.creditedLSN(target: target, lastAssigned: lastAssignedLSN))
            log.noteSynced(through: tail, segmentID: segmentID, lsn: durableLSN, now: clock.monotonicNanoseconds())
        }
    }

    /// Finishes the current segment once synced and starts the next.
    func rotateLocked() throws {
        while syncInProgress { lock.wait() }
        try checkUsable()
        try awaitDurable(lastAssignedLSN)
        try failStopping { try log.rotate(firstLSN: lastAssignedLSN + 1) }
    }

    // MARK: State checks

    func checkUsable() throws {
        if isClosed { throw StoreError(.closed, "the store is closed") }
        if let failure {
            throw StoreError(
                .failStopped, "the store stopped after an I/O failure (\(failure.message)); reopen it",
                path: failure.path, offset: failure.offset, cause: failure.cause)
        }
    }

    /// `checkUsable`, and not read-only.
    func checkWritable() throws {
        try checkUsable()
        if options.readOnly { throw StoreError(.invalidInput, "the store is open read-only", path: directory) }
    }

    func withUsableStore<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        try checkUsable()
        return try body()
    }

    /// Records the failure that stops the store, and returns it for the operation that hit it.
    func failStop(_ error: StoreError) -> StoreError {
        if failure == nil { failure = error }
        lock.broadcast()
        return error
    }

    /// Runs a step whose `.ambiguous` failure (bytes may or may not have reached the disk) must
    /// stop the store; a rejected one (nothing written) passes through.
    func failStopping<T>(_ step: () throws -> T) throws -> T {
        do { return try step() } catch let error as StoreError where error.outcome == .ambiguous { throw failStop(error) }
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
