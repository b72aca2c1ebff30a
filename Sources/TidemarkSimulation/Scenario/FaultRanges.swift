import TidemarkIO
import TidemarkSimulatedDisk

/// The fault mix of a scenario, each a range drawn per seed (swarm testing: every seed runs a
/// different mix, so rare combinations get their turn). Probabilities are per decision: per
/// pending write at a crash, per write call, per sync call... as the field says.
public struct FaultRanges: Codable, Sendable, Hashable {
    // Crashes
    /// Chance a crash is a power loss (otherwise a process kill, which keeps the page cache).
    public var powerLoss = DoubleRange(1)
    /// Chance a cycle's crash strikes inside an operation (a kill point) rather than between two.
    public var killInOperation = DoubleRange(0.5)
    /// Chance a crash also strikes during the recovery that follows it.
    public var killDuringRecovery = DoubleRange(0)
    // What a power loss does to pending (unsynced) writes
    /// Per pending write: lost.
    public var dropUnsynced = DoubleRange(0.5)
    /// Per pending multi-sector write: persists sector by sector.
    public var tornWrite = DoubleRange(0)
    /// Per torn sector: holds random bytes (no powersafe overwrite).
    public var garbage = DoubleRange(0)
    /// Per pending append: the size grew but the data did not (zeros or garbage surface).
    public var unsafeAppend = DoubleRange(0)
    /// Per crash: everything pending survives (FoundationDB keeps all in about 10% of kills).
    public var keepAll = DoubleRange(0.1)
    /// Per pending directory operation: lost.
    public var dropDirectoryOperation = DoubleRange(0.5)
    /// Pending writes survive as an arbitrary subset (`subset`) or only as a prefix per file.
    public var reorder = FaultConfiguration.ReorderMode.subset
    public var sectorSize = 512
    // Faults while running
    /// Per write call: becomes durable at once, before any sync.
    public var earlyWriteback = DoubleRange(0)
    /// Per sync call: fails with EIO, pages marked clean (Linux).
    public var fsyncError = DoubleRange(0)
    /// Per write call: fails with EIO.
    public var writeError = DoubleRange(0)
    /// Per read call: fails with EIO.
    public var readError = DoubleRange(0)
    /// Per write call: lands at another offset of the same file.
    public var misdirectedWrite = DoubleRange(0)
    /// Per crash: bits flip in durable bytes at rest.
    public var bitRot = DoubleRange(0)
    /// Bytes of space; writes beyond fail with ENOSPC. nil: unlimited.
    public var capacityBytes: IntRange? = nil
    /// Unreadable ranges (latent sector errors): reads overlapping them fail with EIO.
    public var latentSectorErrors: [FaultConfiguration.LatentSectorError] = []
    // Knobs added later: drawn after all of the above, so a scenario without them keeps its
    // trace hashes.
    /// Per pending write not surviving whole, of any size: its unlanded sectors hold random bytes,
    /// whole sectors, synced neighbours included (no powersafe overwrite).
    public var sectorGarble = DoubleRange(0)
    /// Per write a kill lands on (spanning a page boundary): a prefix of its pages reached the
    /// page cache first.
    public var killMidWrite = DoubleRange(0)
    /// Per read call: the page cache forgets the file's clean pages first (reads then come from
    /// the disk: stale after a failed fsync).
    public var evictCleanPages = DoubleRange(0)
    /// Per write call: background writeback fails, pages marked clean, error reported once to
    /// each descriptor open (errseq) at its next sync.
    public var writebackError = DoubleRange(0)
    /// Per sync of a file that grew: fails with ENOSPC (delayed allocation), pages marked clean.
    public var syncNoSpace = DoubleRange(0)
    /// Who sees a failed fsync's error: `perFile` (the failing sync; the file's next sync
    /// succeeds) or `errseq` (recorded on the file: the failing descriptor now, every other one
    /// open then at its next sync).
    public var fsyncErrorReporting = FaultConfiguration.FsyncErrorReporting.perFile
    /// Per write growing a file: background writeback finds no space (delayed allocation), pages
    /// marked clean, ENOSPC reported once to each descriptor open (errseq) at its next sync.
    public var writebackNoSpace = DoubleRange(0)
    /// Per injected I/O error: the file system shuts down (every call fails with EIO until the
    /// next crash).
    public var shutdown = DoubleRange(0)
    /// Per injected I/O error: the file system remounts read-only (changes fail with EROFS
    /// until the next crash).
    public var readOnlyRemount = DoubleRange(0)
    /// With `capacityBytes`: an unlinked file's bytes stay counted until the unlink is durable.
    public var holdSpaceUntilUnlinkDurable = false
    /// With `bitRot`: per file, the chance rot strikes it at a crash it can strike (unset: even
    /// odds). Low values damage one file at a time.
    public var bitRotPerFile = DoubleRange(0)
    /// At a power loss, draw one of the crash states the enumerator lists under this model
    /// instead of each pending change's fate on its own (nil: independent fates).
    public var enumeratedCrashStates: PersistenceModel? = nil

    public init() {}

    /// One seed's values (the swarm draw), straight into the simulator's own configuration.
    /// Draws each range uniformly from the seed's `swarm` stream, in the order of the fields
    /// above: that order is part of every recorded trace hash, so keep it.
    public func draw(seed: UInt64) -> DrawnFaults {
        let random = SeededRandom(seed: seed).stream("swarm")
        func draw(_ range: DoubleRange) -> Double {
            let value = range.lower + (range.upper - range.lower) * random.unitDouble()
            return min(1, max(0, value))
        }
        // A knob added later draws only when the scenario sets it: the swarm stream of a
        // scenario without it does not move.
        func drawIfSet(_ range: DoubleRange) -> Double { range.isZero ? 0 : draw(range) }
        var crashes = CrashMix()
        crashes.powerLoss = draw(powerLoss)
        crashes.killInOperation = draw(killInOperation)
        crashes.killDuringRecovery = draw(killDuringRecovery)
        var disk = FaultConfiguration(reorder: reorder, sectorSize: sectorSize, latentSectorErrors: latentSectorErrors)
        disk.writeSurvivalProbability = 1 - draw(dropUnsynced)
        disk.tornWriteProbability = draw(tornWrite)
        disk.garbageProbability = draw(garbage)
        disk.unsafeAppendProbability = draw(unsafeAppend)
        disk.keepAllProbability = draw(keepAll)
        disk.directoryOperationSurvivalProbability = 1 - draw(dropDirectoryOperation)
        disk.earlyWritebackProbability = draw(earlyWriteback)
        disk.fsyncErrorProbability = draw(fsyncError)
        disk.writeErrorProbability = draw(writeError)
        disk.readErrorProbability = draw(readError)
        disk.misdirectedWriteProbability = draw(misdirectedWrite)
        // A scenario's `bitRot` is the chance per crash; when it can strike, each file is hit
        // with even odds (or `bitRotPerFile`'s, drawn last).
        disk.bitRotPerCrashProbability = draw(bitRot)
        disk.bitRotPerFileProbability = disk.bitRotPerCrashProbability > 0 ? 0.5 : 0
        disk.capacityBytes = capacityBytes.map { Int64(random.int(in: $0.lower...max($0.lower, $0.upper))) }
        disk.sectorGarbleProbability = drawIfSet(sectorGarble)
        disk.killMidWriteProbability = drawIfSet(killMidWrite)
        disk.pageEvictionProbability = drawIfSet(evictCleanPages)
        disk.writebackErrorProbability = drawIfSet(writebackError)
        disk.syncNoSpaceProbability = drawIfSet(syncNoSpace)
        disk.enumeratedCrashStates = enumeratedCrashStates
        disk.fsyncErrorReporting = fsyncErrorReporting
        disk.writebackNoSpaceProbability = drawIfSet(writebackNoSpace)
        disk.shutdownProbability = drawIfSet(shutdown)
        disk.readOnlyRemountProbability = drawIfSet(readOnlyRemount)
        disk.holdSpaceUntilUnlinkDurable = holdSpaceUntilUnlinkDurable
        let perFile = drawIfSet(bitRotPerFile)
        if perFile > 0 && disk.bitRotPerCrashProbability > 0 { disk.bitRotPerFileProbability = perFile }
        return DrawnFaults(disk: disk, crashes: crashes)
    }
}

extension FaultRanges {
    /// Decodes a failure file's faults. The knobs added later may be absent (files written
    /// before them): absent means off, which is what those runs had. The others are required.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        powerLoss = try container.decode(DoubleRange.self, forKey: .powerLoss)
        killInOperation = try container.decode(DoubleRange.self, forKey: .killInOperation)
        killDuringRecovery = try container.decode(DoubleRange.self, forKey: .killDuringRecovery)
        dropUnsynced = try container.decode(DoubleRange.self, forKey: .dropUnsynced)
        tornWrite = try container.decode(DoubleRange.self, forKey: .tornWrite)
        garbage = try container.decode(DoubleRange.self, forKey: .garbage)
        unsafeAppend = try container.decode(DoubleRange.self, forKey: .unsafeAppend)
        keepAll = try container.decode(DoubleRange.self, forKey: .keepAll)
        dropDirectoryOperation = try container.decode(DoubleRange.self, forKey: .dropDirectoryOperation)
        reorder = try container.decode(FaultConfiguration.ReorderMode.self, forKey: .reorder)
        sectorSize = try container.decode(Int.self, forKey: .sectorSize)
        earlyWriteback = try container.decode(DoubleRange.self, forKey: .earlyWriteback)
        fsyncError = try container.decode(DoubleRange.self, forKey: .fsyncError)
        writeError = try container.decode(DoubleRange.self, forKey: .writeError)
        readError = try container.decode(DoubleRange.self, forKey: .readError)
        misdirectedWrite = try container.decode(DoubleRange.self, forKey: .misdirectedWrite)
        bitRot = try container.decode(DoubleRange.self, forKey: .bitRot)
        capacityBytes = try container.decodeIfPresent(IntRange.self, forKey: .capacityBytes)
        latentSectorErrors = try container.decode([FaultConfiguration.LatentSectorError].self, forKey: .latentSectorErrors)
        func later(_ key: CodingKeys) throws -> DoubleRange {
            try container.decodeIfPresent(DoubleRange.self, forKey: key) ?? DoubleRange(0)
        }
        sectorGarble = try later(.sectorGarble)
        killMidWrite = try later(.killMidWrite)
        evictCleanPages = try later(.evictCleanPages)
        writebackError = try later(.writebackError)
        syncNoSpace = try later(.syncNoSpace)
        enumeratedCrashStates = try container.decodeIfPresent(PersistenceModel.self, forKey: .enumeratedCrashStates)
        fsyncErrorReporting = try container.decodeIfPresent(
            FaultConfiguration.FsyncErrorReporting.self, forKey: .fsyncErrorReporting) ?? .perFile
        writebackNoSpace = try later(.writebackNoSpace)
        shutdown = try later(.shutdown)
        readOnlyRemount = try later(.readOnlyRemount)
        holdSpaceUntilUnlinkDurable = try container.decodeIfPresent(Bool.self, forKey: .holdSpaceUntilUnlinkDurable) ?? false
        bitRotPerFile = try later(.bitRotPerFile)
    }
}

/// A scenario's faults as one seed drew them: the disk's `FaultConfiguration`, and when the
/// machine goes down (the verifier's business, not the disk's).
public struct DrawnFaults: Sendable, Hashable {
    public var disk: FaultConfiguration
    public var crashes: CrashMix
}

/// Where and how a run's crashes strike: chances drawn per seed, used by the workload generator.
public struct CrashMix: Sendable, Hashable {
    /// Chance a crash is a power loss (otherwise a process kill).
    public var powerLoss = 1.0
    /// Chance a cycle's crash strikes inside an operation (a kill point).
    public var killInOperation = 0.0
    /// Chance a crash also strikes during the recovery that follows it.
    public var killDuringRecovery = 0.0
}
