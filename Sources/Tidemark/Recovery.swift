import TidemarkIO

/// What `Store.open` found and did.
public struct RecoveryReport: Sendable, Hashable, Codable {
    public struct Truncation: Sendable, Hashable, Codable {
        public var file: String
        public var offset: Int64
        public var bytes: Int64
        public var reason: String
        /// The cut bytes began with a frame whose header was written (`FormatError.frameHeaderIntact`)
        /// but that fails to decode: a torn write of an unacknowledged frame, or bit rot in an
        /// acknowledged one. One copy cannot tell which, so acknowledged data may have been lost.
        public var frameHeaderIntact: Bool = false
        /// The last LSN kept before the cut (nil when unknown): a possible loss is of LSN
        /// `keptThroughLSN + 1` onwards.
        public var keptThroughLSN: UInt64?

        /// A warning for people when this cut may have dropped acknowledged data, else nil.
        public var possibleLossWarning: String? {
            guard frameHeaderIntact else { return nil }
            let lsns = keptThroughLSN.map { " (LSN \($0 + 1) onwards)" } ?? ""
            return "\(file) @ \(offset)\(lsns): recovery cut a frame whose header is intact but whose payload is cut short or fails its checksum: a torn write of an unacknowledged commit, or bit rot in an acknowledged one (one copy cannot tell); acknowledged data may have been lost"
        }
    }

    /// The checkpoint recovery started from (nil: replay from an empty store).
    public var checkpointFile: String?
    public var checkpointLSN: UInt64?
    /// Newer checkpoints that were damaged or missing, so an older one was used.
    public var skippedCheckpoints: [StoreProblem] = []
    public var framesReplayed = 0
    /// The last LSN in the recovered state.
    public var lastLSN: UInt64 = 0
    /// Torn tails cut off (unacknowledged bytes).
    public var truncations: [Truncation] = []
    /// With salvage: every damaged region skipped and the LSNs lost with it. Empty otherwise.
    public var lost: [StoreProblem] = []
    /// Leftover files removed (temp files, an unfinished segment, orphan checkpoints).
    public var removedFiles: [String] = []
    /// With salvage: the folder (`quarantine/<n>`) holding the damaged or unused files it kept
    /// instead of deleting them, beside its `report.json`; nil when it kept none.
    public var quarantineFolder: String?
    /// The files kept there.
    public var quarantinedFiles: [String] = []
    /// With salvage of a damaged cold tier: the records copied out of its quarantined copy into
    /// the new one, and the ids that would not read, each with why (also listed in `lost`).
    public var coldRecordsCopied: [String] = []
    public var coldRecordsLost: [String: String] = [:]
    public var durationNanoseconds: Int64 = 0

    /// Frames replayed from log bytes no successful sync was proven to cover (a killed process's
    /// page cache, or pages a failed fsync marked clean). Open writes them again into a fresh,
    /// synced segment and cuts them off the old one (`LogWriter.init`), so the recovered state
    /// no longer depends on them.
    public var unprovenFramesReplayed = 0

    public var bytesTruncated: Int64 { truncations.reduce(0) { $0 + $1.bytes } }

    /// Whether recovery may have dropped acknowledged data it could not tell from a torn write
    /// (see `Truncation.frameHeaderIntact`).
    public var reportsPossibleLoss: Bool { truncations.contains(where: \.frameHeaderIntact) }
}

/// A live segment as the writer knows it.
struct SegmentInfo: Hashable {
    var name: String
    var firstLSN: UInt64
    var size: Int64
}

/// The result of recovery, from which `Store` continues.
struct RecoveredStore {
    var state: StoreState
    var lastLSN: UInt64
    /// Kept checkpoints, newest first (damaged ones dropped).
    var checkpoints: [Manifest.Entry]
    var segments: [SegmentInfo]
    /// The last segment when every frame in it is proven synced (a clean close left a marker
    /// claiming so): the store may keep appending at `offset`, the end of the proven bytes.
    var resumable: (header: SegmentHeader, offset: Int64)?
    /// The replayed frames no successful sync was proven to cover, in LSN order (the last
    /// segment's tail after a crash or a failed sync): the writer makes them durable again.
    var unprovenFrames: [Frame] = []
    /// Where the first unproven frame starts in the last segment.
    var unprovenStart: Int64?
    var report: RecoveryReport
    /// What the manifest proves was durable (`Manifest.provenDurableLSN`).
    var manifestDurableLSN: UInt64 = 0
    /// Salvage's quarantine, for the cold tier's files too.
    var quarantine: Quarantine
    /// `SYNCED`'s newest valid slot, which the log writer continues from.
    var syncedRecord: SyncedLSNRecord?
    /// `SYNCED`'s slots that do not validate (`RecoveryPass.damagedSyncedSlots`).
    var damagedSyncedSlots: [Int] = []
    /// `POSSIBLE-LOSS` exists: the end of a successful writable open removes it.
    var possibleLossRecorded = false
    /// The store's time, never below the latest time the recovered files record.
    let storeClock: StoreClock
    /// Open must write a checkpoint before accepting writes: a damaged checkpoint is still named
    /// by the manifest, or frames were replayed from bytes not proven durable that the log
    /// writer cannot write again as one run (it rewrites the usual unproven tail itself).
    var needsCheckpoint: Bool {
        !report.skippedCheckpoints.isEmpty
            || (report.unprovenFramesReplayed > 0 && LogWriter.restartLSN(lastLSN: lastLSN, unproven: unprovenFrames) > lastLSN)
    }
}

/// Recovery at open: newest valid checkpoint, then replay of the log after it. Every change it
/// makes (cutting a torn tail, removing leftovers) is one that recovery would make again the same
/// way, so a crash during recovery is harmless. Which files are what, and how a segment's damage
/// is read (torn tail or corruption), is `StoreInventory`'s, shared with `Verification`.
enum Recovery {
    static func run(
        directory: String, fileSystem: any FileSystem, options: StoreOptions, clock: any Clock
    ) throws -> RecoveredStore {
        let started = clock.monotonicNanoseconds()
        var pass = RecoveryPass(directory: directory, fileSystem: fileSystem, options: options)
        let inventory = try pass.removeTemporaryFiles()
        let manifest = try pass.readManifest(inventory)
        if pass.hooks.cutsLogAtRecordedDurableEnd {
            let synced = try? SyncedLSNRecord.read(directory: directory, fileSystem: fileSystem).newest
            pass.canaryLogEnd = DurableEnd(manifest: manifest, synced: synced).lsn
        }
        try pass.readPossibleLosses(inventory)
        try pass.loadNewestCheckpoint(from: manifest)
        for segment in inventory.segments { try pass.replay(segment) }
        try pass.checkDurableEnd(manifest, inventory)
        if pass.hooks.replaysPastDamage { pass.report.lost.removeAll() }
        try pass.quarantineDamage(inventory)
        try pass.recordPossibleLosses(inventory)
        try pass.repair(inventory)
        pass.reportRecordedPossibleLosses()
        pass.report.lastLSN = pass.lastLSN
        pass.report.durationNanoseconds = clock.monotonicNanoseconds() - started
        return RecoveredStore(
            state: pass.state, lastLSN: pass.lastLSN, checkpoints: pass.keptCheckpoints, segments: pass.segments,
            resumable: pass.resumable, unprovenFrames: pass.unprovenFrames, unprovenStart: pass.unprovenStart, report: pass.report,
            manifestDurableLSN: manifest.provenDurableLSN, quarantine: pass.quarantine, syncedRecord: pass.syncedRecord,
            damagedSyncedSlots: pass.damagedSyncedSlots, possibleLossRecorded: pass.possibleLossRecorded,
            storeClock: StoreClock(wall: clock, floor: max(manifest.storeTime, pass.latestCommitTime), hooks: pass.hooks))
    }

    /// Reads one checkpoint and checks it against its manifest entry.
    static func loadCheckpoint(_ entry: Manifest.Entry, directory: String, fileSystem: any FileSystem) throws -> StoreState {
        let path = FilePaths.join(directory, entry.fileName)
        let bytes: [UInt8]
        do {
            bytes = try fileSystem.readFile(path)
        } catch let error as FileSystemError where error.code == .notFound {
            throw StoreError(.corruption, "checkpoint missing: \(error.message)", path: path, offset: 0, cause: error)
        } catch let error as FileSystemError {
            // Unreadable is not damaged: the bytes may be intact and a retry may read them.
            throw StoreError(.io, "cannot read the checkpoint: \(error.message)", path: path, cause: error)
        }
        let state = try CheckpointFile.decode(bytes, path: path, expectedLSN: entry.lsn)
        guard CRC32C.checksum(bytes) == entry.fileChecksum else {
            throw StoreError.corruption("checkpoint file checksum does not match the manifest", path: path, offset: 0)
        }
        return state
    }
}
