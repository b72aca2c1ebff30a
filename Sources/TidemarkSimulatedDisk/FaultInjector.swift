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
//   readable but never durable, and the next fsync of the file succeeds);
// - latent sector errors on fixed ranges (`latentSectorErrors`), ENOSPC after the prefix that
//   fits (`capacityBytes`);
// - early writeback of a file's pending writes (`earlyWritebackProbability`), misdirected writes
//   to another sector-aligned offset of the same file (`misdirectedWriteProbability`).
// - ENOSPC from fsync (`syncNoSpaceProbability`, stream "faults.syncNoSpace"): a sync of a
//   file whose pending writes grew it fails with `.noSpace` (delayed allocation found no blocks
//   at writeback), and, as after EIO, those writes are marked clean: readable, never durable.
// - background writeback errors (`writebackErrorProbability`, per write, stream
//   "faults.writebackError"): the file's pending writes are marked clean, as a failed fsync
//   marks them, and the error is recorded on the file (Linux errseq): every descriptor open at
//   that moment reports it once, at its next sync (which still writes back what is dirty by
//   then); a descriptor opened later never sees it, nor does a second sync of the same one.
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
// stream named "faults.<kind>" added last (sector garble, ENOSPC from fsync, writeback errors,
// eviction, kills inside a write) draw only when non-zero, so a configuration without them
// replays its old trace. Not modelled: symlinks, hard links, permissions, timestamps; errseq
// for a fsync that fails by itself (that one is per file, as above); a file-system shutdown or
// read-only remount after an error; ENOSPC from background writeback; space held until an
// unlink is durable (an unlink frees it at once).
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
