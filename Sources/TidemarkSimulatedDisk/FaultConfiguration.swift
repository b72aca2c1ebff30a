/// Which faults a `SimulatedFileSystem` injects, and how often (the model itself is described
/// once, at the top of `FaultInjector.swift`).
///
/// `.none` is a faithful disk: every call behaves as POSIX promises, and at a power loss every
/// pending (unsynced) write and directory operation is lost, which a real disk is allowed to do.
/// Every probability defaults to 0; a scenario raises the ones it wants. Decoding accepts any
/// subset of the keys (missing ones keep their default), so scenario files stay short.
public struct FaultConfiguration: Codable, Sendable, Hashable {
    /// How the pending writes of one file survive a power loss.
    public enum ReorderMode: String, Codable, Sendable, Hashable, CaseIterable {
        /// Any subset survives: the disk reordered them freely.
        case subset
        /// Only a prefix survives (in write order); the first write that does not survive whole
        /// may be torn, everything after it is lost.
        case orderedPrefix
    }

    /// To whom a failed fsync reports its error.
    public enum FsyncErrorReporting: String, Codable, Sendable, Hashable, CaseIterable {
        /// The failing sync reports it, and the next sync of the file, through any descriptor,
        /// succeeds without a draw (the older rule: the error is reported once per file).
        case perFile
        /// Linux errseq: the error is recorded on the file; the failing descriptor reports it now,
        /// every other descriptor open then at its next sync; each later sync draws afresh.
        case errseq
    }

    /// Reads of `length` bytes at `offset` of any file whose path contains `pathContains` fail
    /// with `.io` (a latent sector error: the data is unreadable, not wrong).
    public struct LatentSectorError: Codable, Sendable, Hashable {
        public var pathContains: String
        public var offset: Int64
        public var length: Int64
        public init(pathContains: String, offset: Int64, length: Int64) {
            self.pathContains = pathContains
            self.offset = offset
            self.length = length
        }
    }

    // MARK: Power loss

    /// Per pending write (or truncate) at a power loss: the chance it reaches the disk whole.
    public var writeSurvivalProbability: Double
    /// Per power loss: the chance every pending write and directory operation survives
    /// (FoundationDB's simulator keeps everything in about 10% of its crashes).
    public var keepAllProbability: Double
    /// Per pending directory operation (create, rename, remove) at a power loss: the chance it
    /// survives. A rename is one operation, so it is never half done.
    public var directoryOperationSurvivalProbability: Double
    /// Whether surviving writes form an arbitrary subset or an ordered prefix, per file.
    public var reorder: ReorderMode
    /// Per pending write spanning two or more sectors that does not survive whole: the chance it
    /// is torn (some sectors land, others do not) rather than lost entirely.
    public var tornWriteProbability: Double
    /// The unit a torn write persists in: 512 or 4096 bytes.
    public var sectorSize: Int
    /// Per sector a torn write did not land: the chance the sector holds random bytes instead of
    /// its old contents (a disk without powersafe overwrite).
    public var garbageProbability: Double
    /// Per appending write that does not survive whole: the chance the file's size grew anyway
    /// (metadata before data), so the lost part reads as zeros, or garbage when
    /// `garbageProbability` also fires.
    public var unsafeAppendProbability: Double
    /// Per power loss: the chance bit rot strikes at all.
    public var bitRotPerCrashProbability: Double
    /// Per pending write that does not survive whole, of any size: the chance every sector it
    /// touched and did not land holds random bytes, whole sectors, so synced bytes sharing a
    /// sector with it are garbled too (a disk without powersafe overwrite).
    public var sectorGarbleProbability: Double
    /// When set, a power loss does not draw each pending change's fate on its own: it draws one
    /// of the crash states `CrashStateEnumerator` lists under this model at that call (every
    /// legal state, or the bounded family past `enumeratedCrashStateBudget`), uniformly. Random
    /// mode then lands on the states exploration checks, narrow ones included, at every crash
    /// of every seed. The per-change probabilities above (but bit rot) do not apply then.
    public var enumeratedCrashStates: PersistenceModel?
    /// The enumerator's budget for `enumeratedCrashStates`.
    public var enumeratedCrashStateBudget = 256
    /// Per durable non-empty file, when bit rot strikes: the chance one bit of it flips.
    public var bitRotPerFileProbability: Double

    // MARK: While running

    /// Per write: the chance the OS writes it (and the file's earlier pending writes) back to
    /// disk at once, before any sync.
    public var earlyWritebackProbability: Double
    /// Per `sync`/`syncData`/`syncDirectory`: the chance it fails with `.io`. A failed file sync
    /// marks the pending writes clean (readable, never durable) and reports the error as
    /// `fsyncErrorReporting` says.
    public var fsyncErrorProbability: Double
    /// Who sees a failed file sync's error: `perFile` (default, older traces) or `errseq`.
    public var fsyncErrorReporting: FsyncErrorReporting
    /// Per write: the chance it fails with `.io` after writing a random prefix (maybe nothing).
    public var writeErrorProbability: Double
    /// Per read: the chance it fails with `.io`.
    public var readErrorProbability: Double
    /// Per write a kill point interrupts, when it spans a page boundary: the chance a prefix of
    /// it, whole 4096-byte pages of the page cache, was copied in before the SIGKILL landed.
    public var killMidWriteProbability: Double
    /// Per read: the chance the page cache first forgets the file's clean pages, so the read
    /// comes from the durable image (dirty pages stay): data a failed fsync marked clean reads
    /// stale, a misdirected write that reached the disk reads misplaced.
    public var pageEvictionProbability: Double
    /// Per write: the chance background writeback of the file's pending writes fails at once:
    /// the pages are marked clean (readable, never durable) and the error is recorded on the
    /// file (Linux errseq). Each descriptor open then reports it once, at its next sync, after
    /// writing back what is dirty by then; one opened later never sees it.
    public var writebackErrorProbability: Double
    /// Per `sync`/`syncData` of a file whose pending writes grew it: the chance it fails with
    /// `.noSpace` (delayed allocation found no blocks at writeback): as a failed fsync, the
    /// pending writes are marked clean, readable and never durable.
    public var syncNoSpaceProbability: Double
    /// Per write that grew the file past its durable size: the chance background writeback
    /// finds no blocks for it (delayed allocation): the pending writes are marked clean and
    /// ENOSPC is recorded on the file (errseq), reported once by each descriptor open then, at
    /// its next sync.
    public var writebackNoSpaceProbability: Double
    /// Per injected I/O error (EIO from a write, read, sync or background writeback, a latent
    /// sector error): the chance the file system shuts down (XFS): every call but `close`
    /// fails with `.io` until the next crash.
    public var shutdownProbability: Double
    /// Per injected I/O error, when it did not shut down: the chance the file system remounts
    /// read-only (ext4 `errors=remount-ro`): every call that would change it (open for
    /// writing, write, truncate, sync, create, remove, rename) fails with EROFS
    /// (`.permissionDenied`) until the next crash; reads still work.
    public var readOnlyRemountProbability: Double
    /// With `capacityBytes`: an unlinked (or renamed-over) file's bytes stay counted until no
    /// durable entry names it any more and its last handle closed, as a real file system frees
    /// blocks only when the unlink commits. Off: an unlink frees its bytes at once.
    public var holdSpaceUntilUnlinkDurable: Bool
    /// Fixed unreadable ranges.
    public var latentSectorErrors: [LatentSectorError]
    /// Total bytes the files may hold; writes past it fail with `.noSpace` after writing the
    /// prefix that fits. `nil` means unlimited. Truncate does not check it (sparse files).
    public var capacityBytes: Int64?
    /// Per write: the chance the disk stores it at another sector-aligned offset of the same
    /// file. Reads keep seeing the intended data until a crash (the page cache has it right).
    public var misdirectedWriteProbability: Double

    public init(
        writeSurvivalProbability: Double = 0,
        keepAllProbability: Double = 0,
        directoryOperationSurvivalProbability: Double = 0,
        reorder: ReorderMode = .subset,
        tornWriteProbability: Double = 0,
        sectorSize: Int = 512,
        garbageProbability: Double = 0,
        unsafeAppendProbability: Double = 0,
        bitRotPerCrashProbability: Double = 0,
        bitRotPerFileProbability: Double = 0,
        earlyWritebackProbability: Double = 0,
        fsyncErrorProbability: Double = 0,
        writeErrorProbability: Double = 0,
        readErrorProbability: Double = 0,
        latentSectorErrors: [LatentSectorError] = [],
        capacityBytes: Int64? = nil,
        misdirectedWriteProbability: Double = 0,
        sectorGarbleProbability: Double = 0,
        killMidWriteProbability: Double = 0,
        pageEvictionProbability: Double = 0,
        writebackErrorProbability: Double = 0,
        syncNoSpaceProbability: Double = 0,
        fsyncErrorReporting: FsyncErrorReporting = .perFile,
        writebackNoSpaceProbability: Double = 0,
        shutdownProbability: Double = 0,
        readOnlyRemountProbability: Double = 0,
        holdSpaceUntilUnlinkDurable: Bool = false
    ) {
        self.writeSurvivalProbability = writeSurvivalProbability
        self.keepAllProbability = keepAllProbability
        self.directoryOperationSurvivalProbability = directoryOperationSurvivalProbability
        self.reorder = reorder
        self.tornWriteProbability = tornWriteProbability
        self.sectorSize = sectorSize
        self.garbageProbability = garbageProbability
        self.unsafeAppendProbability = unsafeAppendProbability
        self.bitRotPerCrashProbability = bitRotPerCrashProbability
        self.bitRotPerFileProbability = bitRotPerFileProbability
        self.earlyWritebackProbability = earlyWritebackProbability
        self.fsyncErrorProbability = fsyncErrorProbability
        self.writeErrorProbability = writeErrorProbability
        self.readErrorProbability = readErrorProbability
        self.latentSectorErrors = latentSectorErrors
        self.capacityBytes = capacityBytes
        self.misdirectedWriteProbability = misdirectedWriteProbability
        self.sectorGarbleProbability = sectorGarbleProbability
        self.killMidWriteProbability = killMidWriteProbability
        self.pageEvictionProbability = pageEvictionProbability
        self.writebackErrorProbability = writebackErrorProbability
        self.syncNoSpaceProbability = syncNoSpaceProbability
        self.fsyncErrorReporting = fsyncErrorReporting
        self.writebackNoSpaceProbability = writebackNoSpaceProbability
        self.shutdownProbability = shutdownProbability
        self.readOnlyRemountProbability = readOnlyRemountProbability
        self.holdSpaceUntilUnlinkDurable = holdSpaceUntilUnlinkDurable
    }

    /// A faithful disk: no faults; a power loss loses exactly what was not synced.
    public static let none = FaultConfiguration()

    /// Whether data at rest may be damaged (bit rot, misdirected writes): then a subject that
    /// refuses to open with a corruption error has detected it, not failed.
    public var injectsCorruption: Bool { bitRotPerCrashProbability > 0 || misdirectedWriteProbability > 0 }

    /// Whether calls may fail with EIO or ENOSPC: then a subject that refuses on them does right.
    public var injectsIOErrors: Bool {
        fsyncErrorProbability > 0 || writebackErrorProbability > 0 || syncNoSpaceProbability > 0
            || writebackNoSpaceProbability > 0
            || writeErrorProbability > 0 || readErrorProbability > 0
            || capacityBytes != nil || !latentSectorErrors.isEmpty
    }

    /// The sector size actually used: `sectorSize` when it is a positive power of two, else 512.
    public var effectiveSectorSize: Int {
        sectorSize > 0 && sectorSize & (sectorSize - 1) == 0 ? sectorSize : 512
    }

    private enum CodingKeys: String, CodingKey {
        case writeSurvivalProbability, keepAllProbability, directoryOperationSurvivalProbability
        case reorder, tornWriteProbability, sectorSize, garbageProbability, unsafeAppendProbability
        case bitRotPerCrashProbability, bitRotPerFileProbability, earlyWritebackProbability
        case fsyncErrorProbability, writeErrorProbability, readErrorProbability
        case latentSectorErrors, capacityBytes, misdirectedWriteProbability, sectorGarbleProbability
        case killMidWriteProbability, pageEvictionProbability, writebackErrorProbability, syncNoSpaceProbability
        case enumeratedCrashStates, enumeratedCrashStateBudget
        case fsyncErrorReporting, writebackNoSpaceProbability, shutdownProbability, readOnlyRemountProbability
        case holdSpaceUntilUnlinkDurable
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func probability(_ key: CodingKeys) throws -> Double {
            guard let value = try c.decodeIfPresent(Double.self, forKey: key) else { return 0 }
            guard (0...1).contains(value) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: c, debugDescription: "\(key.stringValue) must be within 0...1, got \(value)")
            }
            return value
        }
        writeSurvivalProbability = try probability(.writeSurvivalProbability)
        keepAllProbability = try probability(.keepAllProbability)
        directoryOperationSurvivalProbability = try probability(.directoryOperationSurvivalProbability)
        reorder = try c.decodeIfPresent(ReorderMode.self, forKey: .reorder) ?? .subset
        tornWriteProbability = try probability(.tornWriteProbability)
        sectorSize = try c.decodeIfPresent(Int.self, forKey: .sectorSize) ?? 512
        guard sectorSize > 0, sectorSize & (sectorSize - 1) == 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: .sectorSize, in: c, debugDescription: "sectorSize must be a positive power of two, got \(sectorSize)")
        }
        garbageProbability = try probability(.garbageProbability)
        unsafeAppendProbability = try probability(.unsafeAppendProbability)
        bitRotPerCrashProbability = try probability(.bitRotPerCrashProbability)
        bitRotPerFileProbability = try probability(.bitRotPerFileProbability)
        earlyWritebackProbability = try probability(.earlyWritebackProbability)
        fsyncErrorProbability = try probability(.fsyncErrorProbability)
        writeErrorProbability = try probability(.writeErrorProbability)
        readErrorProbability = try probability(.readErrorProbability)
        latentSectorErrors = try c.decodeIfPresent([LatentSectorError].self, forKey: .latentSectorErrors) ?? []
        capacityBytes = try c.decodeIfPresent(Int64.self, forKey: .capacityBytes)
        misdirectedWriteProbability = try probability(.misdirectedWriteProbability)
        sectorGarbleProbability = try probability(.sectorGarbleProbability)
        killMidWriteProbability = try probability(.killMidWriteProbability)
        pageEvictionProbability = try probability(.pageEvictionProbability)
        writebackErrorProbability = try probability(.writebackErrorProbability)
        syncNoSpaceProbability = try probability(.syncNoSpaceProbability)
        enumeratedCrashStates = try c.decodeIfPresent(PersistenceModel.self, forKey: .enumeratedCrashStates)
        enumeratedCrashStateBudget = try c.decodeIfPresent(Int.self, forKey: .enumeratedCrashStateBudget) ?? 256
        fsyncErrorReporting = try c.decodeIfPresent(FsyncErrorReporting.self, forKey: .fsyncErrorReporting) ?? .perFile
        writebackNoSpaceProbability = try probability(.writebackNoSpaceProbability)
        shutdownProbability = try probability(.shutdownProbability)
        readOnlyRemountProbability = try probability(.readOnlyRemountProbability)
        holdSpaceUntilUnlinkDurable = try c.decodeIfPresent(Bool.self, forKey: .holdSpaceUntilUnlinkDurable) ?? false
    }
}
