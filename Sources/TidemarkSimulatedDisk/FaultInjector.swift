import TidemarkIO

// The fault model of `SimulatedFileSystem`, in one place.
//
// What the simulated disk promises (POSIX on a journaling file system):
// - A write lands in the page cache at once: reads see it, the disk does not. `sync`/`syncData`
//   make a file's data and size durable; `syncDirectory` makes a directory's entries durable;
//   `close` makes nothing durable. A rename is one entry operation, never half done.
// - `crash(.processKill)` keeps the page cache and every pending change; only handles die.
// - `crash(.powerLoss)` keeps what was synced and settles everything pending below.
//
// What it may do, each knob a field of `FaultConfiguration` (0 = never), each drawn from its own
// random stream below so a new draw for one fault never shifts another:
//
// At a power loss (stream "crash"), in this order:
// 1. keep everything pending (`keepAllProbability`), else:
// 2. per pending directory operation, in issue order: survive
//    (`directoryOperationSurvivalProbability`) or be lost, and with it every later operation on
//    the same node; `reorder: orderedPrefix` loses everything after the first loss.
// 3. per pending write or truncate, per file in inode order: survive whole
//    (`writeSurvivalProbability`), or be lost, or, when it spans two or more sectors, be torn
//    sector by sector (`tornWriteProbability`, in `sectorSize` units). Unlanded torn sectors may
//    hold garbage (`garbageProbability`); a lost append may grow the file anyway, reading as
//    zeros or garbage (`unsafeAppendProbability`); a misdirected write lands at its wrong offset.
//    `reorder: orderedPrefix` keeps only a prefix per file, `subset` any subset. Writes a failed
//    fsync marked clean never survive.
//    Without powersafe overwrite (`sectorGarbleProbability`, stream "faults.sectorGarble"), any
//    write that did not survive whole, a one-sector write too, may leave every sector it touched
//    and did not land full of random bytes: whole sectors, so synced bytes that share a sector
//    with the write are garbled too. Sectors are `sectorSize` bytes (512 or 4096).
//    With `enumeratedCrashStates` set, steps 2 and 3 draw nothing per change: the power loss
//    takes one of the states `CrashStateEnumerator` lists under that persistence model at this
//    call (bounded by `enumeratedCrashStateBudget`), uniformly from the crash stream, and applies
//    its fates as a crash clone of that state would hold them.
// 4. bit rot at rest (`bitRotPerCrashProbability`, then `bitRotPerFileProbability` per file).
//
// While running (one stream per kind):
// - write EIO after a random prefix (`writeErrorProbability`), read EIO (`readErrorProbability`),
//   fsync EIO (`fsyncErrorProbability`; Linux semantics: the pending writes are marked clean,
//   readable but never durable). Who hears of it is `fsyncErrorReporting`: `perFile` (default,
//   the older rule) reports it to the failing sync and lets the file's next sync, through any
//   descriptor, succeed without a draw; `errseq` records it on the file as below, the failing
//   descriptor having seen it, and every later sync draws afresh (it may fail again);
// - latent sector errors on fixed ranges (`latentSectorErrors`), ENOSPC after the prefix that
//   fits (`capacityBytes`); with `holdSpaceUntilUnlinkDurable` an unlinked or renamed-over
//   file's bytes stay counted until no durable entry names it and its last handle closed
//   (blocks are freed when the unlink commits), else at once;
// - early writeback of a file's pending writes (`earlyWritebackProbability`), misdirected writes
//   to another sector-aligned offset of the same file (`misdirectedWriteProbability`).
// - ENOSPC from fsync (`syncNoSpaceProbability`, stream "faults.syncNoSpace"): a sync of a
//   file whose pending writes grew it fails with `.noSpace` (delayed allocation found no blocks
//   at writeback), and, as after EIO, those writes are marked clean: readable, never durable.
// - background writeback errors (`writebackErrorProbability`, per write, stream
//   "faults.writebackError"): the file's pending writes are marked clean, as a failed fsync
//   marks them, and EIO is recorded on the file.
// - ENOSPC from background writeback (`writebackNoSpaceProbability`, per write that grew the
//   file past its durable size, stream "faults.writebackNoSpace"): delayed allocation found no
//   blocks; the pending writes are marked clean and ENOSPC is recorded on the file.
// - A writeback error recorded on the file (Linux errseq: `WritebackErrorSequence`, one per
//   inode, for the three sources above) is reported once by every descriptor open when it was
//   recorded, at its next sync, with the latest error's code; that sync still writes back what
//   is dirty by then. A descriptor opened later never sees it (the pre-4.16 rule), nor does a
//   second sync of the same one.
// - After an injected I/O error (EIO from a write, read, sync or background writeback, a
//   latent sector error) the file system may shut down (`shutdownProbability`, stream
//   "faults.shutdown", XFS): every call but `close` fails with EIO; or else remount read-only
//   (`readOnlyRemountProbability`, stream "faults.readOnlyRemount", ext4 errors=remount-ro):
//   every call that would change it (open for writing, write, truncate, syncs, create, remove,
//   rename) fails with EROFS, reads work. The next crash ends either (the machine reboots);
//   what was pending stays pending and that crash settles it.
// - eviction of clean pages before a read (`pageEvictionProbability`, stream
//   "faults.pageEviction"): the read, and every later one, comes from the durable image plus
//   the dirty pages; recorded only when that changes what the file reads. So data a failed
//   fsync marked clean reads stale, and a misdirected write that reached the disk reads
//   misplaced, before any crash.
// - Kill points (`KillPoint`) halt the process at a chosen call; they are not random. A killed
//   call is not performed, except that a killed write spanning a page boundary may have copied
//   a prefix of whole 4096-byte pages into the page cache first (`killMidWriteProbability`,
//   stream "faults.killMidWrite"): a SIGKILL lands inside a large pwrite, so a write is not
//   atomic even against a process kill.
//
// Every fault taken (never a benign outcome) becomes a `FaultDecision`; suppressing its index
// makes the same draw take the benign outcome on the next run (shrinking). The knobs with a
// stream named "faults.<kind>" added last (sector garble, ENOSPC from fsync and from
// writeback, writeback errors, eviction, kills inside a write, shutdown, read-only remount)
// draw only when non-zero, and the two flags (`fsyncErrorReporting`,
// `holdSpaceUntilUnlinkDurable`) default to the older behaviour, so a configuration without
// them replays its old trace. Not modelled: symlinks, hard links, permissions, timestamps; a
// writeback error reported to a descriptor opened after it when no one has seen it yet (Linux
// 4.16 and later); an inode evicted with its recorded error while no descriptor is open; dirty
// pages a shutdown discards (a later power loss settles them like any pending change).
//
// Crash exploration enumerates the power-loss outcomes of step 2 and 3 instead of drawing them
// (`CrashStateEnumerator`, under a `PersistenceModel`); it never touches these streams.

/// Owns the fault model's state: the configuration, one random stream per kind of fault, the
/// list of decisions taken, and the suppressed ones. Guarded by the file system's lock.
struct FaultInjector {
    var configuration: FaultConfiguration
    /// Independent streams, so a decision drawn for one fault never shifts another's.
    let writeError, readError, fsyncError, earlyWriteback, misdirectedWrite, sectorGarble, killMidWrite, pageEviction, writebackError, syncNoSpace, crash: SeededRandom
    let writebackNoSpace, shutdown, readOnlyRemount: SeededRandom
    /// Every fault taken, in order; indices name faults.
    private(set) var decisions: [FaultDecision] = []
    /// Every error the configuration injected without a draw (ENOSPC, latent sector errors).
    var configuredFaults: [ConfiguredFault] = []
    /// Indices of the decisions taken in the current call.
    private(set) var currentCallDecisions: [Int] = []
    /// Decision indices forced to the benign outcome.
    var suppressed: Set<Int> = []

    init(seed: UInt64, configuration: FaultConfiguration) {
        self.configuration = configuration
        let base = SeededRandom(seed: seed)
        writeError = base.stream("faults.writeError")
        readError = base.stream("faults.readError")
        fsyncError = base.stream("faults.fsyncError")
        earlyWriteback = base.stream("faults.earlyWriteback")
        misdirectedWrite = base.stream("faults.misdirectedWrite")
        sectorGarble = base.stream("faults.sectorGarble")
        killMidWrite = base.stream("faults.killMidWrite")
        pageEviction = base.stream("faults.pageEviction")
        writebackError = base.stream("faults.writebackError")
        syncNoSpace = base.stream("faults.syncNoSpace")
        writebackNoSpace = base.stream("faults.writebackNoSpace")
        shutdown = base.stream("faults.shutdown")
        readOnlyRemount = base.stream("faults.readOnlyRemount")
        crash = base.stream("crash")
    }

    mutating func beginCall() {
        currentCallDecisions.removeAll(keepingCapacity: true)
    }

    /// Records a fault drawn now; the decision says whether it is suppressed.
    mutating func record(_ kind: FaultKind, path: String, callIndex: Int, outcome: String, offset: Int64?) -> FaultDecision {
        let index = decisions.count
        let decision = FaultDecision(
            index: index, kind: kind, path: path, callIndex: callIndex, outcome: outcome,
            suppressed: suppressed.contains(index), offset: offset)
        decisions.append(decision)
        currentCallDecisions.append(index)
        return decision
    }
}
