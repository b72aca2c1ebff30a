/// The kinds of random fault decision the simulator takes.
public enum FaultKind: String, Codable, Sendable, Hashable, CaseIterable {
    /// A pending write or truncate did not reach the disk whole at a power loss.
    case writeLost
    /// A pending directory operation was lost at a power loss.
    case directoryOperationLost
    /// Sectors a torn write did not land hold random bytes.
    case garbage
    /// A write that did not survive whole garbled every sector it touched and did not land.
    case sectorGarble
    /// An append that did not survive whole still grew the file.
    case unsafeAppend
    /// A write became durable before any sync.
    case earlyWriteback
    /// `sync`/`syncData`/`syncDirectory` failed with `.io`.
    case fsyncError
    /// A kill point interrupted a write after some of its pages reached the page cache.
    case killMidWrite
    /// Background writeback of a file's pending writes failed (reported at later syncs).
    case writebackError
    /// `sync`/`syncData` failed with `.noSpace` (delayed allocation at writeback).
    case syncNoSpace
    /// Background writeback of a grown file found no space (ENOSPC recorded, reported later).
    case writebackNoSpace
    /// After an I/O error the file system shut down: every call fails until the next crash.
    case shutdown
    /// After an I/O error the file system was remounted read-only until the next crash.
    case readOnlyRemount
    /// A write failed with `.io` after a prefix.
    case writeError
    /// The page cache forgot a file's clean pages before a read: it came from the disk.
    case pageEviction
    /// A read failed with `.io`.
    case readError
    /// A write was stored at another offset of its file.
    case misdirectedWrite
    /// A durable bit flipped at a power loss.
    case bitRot
}

/// One random fault the simulator decided to inject (a benign outcome is not recorded).
///
/// `index` is the position in `SimulatedFileSystem.decisions`. Putting it in
/// `suppressedDecisions` makes the same draw take the benign outcome next run (the decision is
/// still recorded, with `suppressed == true`, so later indices stay put): that is how a shrinker
/// removes faults one at a time.
public struct FaultDecision: Codable, Sendable, Hashable {
    public var index: Int
    public var kind: FaultKind
    public var path: String
    /// The file-system call it happened in (for crash decisions: the call count at the crash).
    public var callIndex: Int
    /// Human-readable outcome, e.g. "torn: kept sectors [3]" or "eio after 100 of 4096 bytes".
    public var outcome: String
    /// True when `suppressedDecisions` forced the benign outcome instead.
    public var suppressed: Bool
    /// The byte offset the fault hit, when it hit one place (not a whole-file sync or a
    /// directory entry). Report data only: not part of the trace hash.
    public var offset: Int64?

    public init(
        index: Int, kind: FaultKind, path: String, callIndex: Int, outcome: String, suppressed: Bool, offset: Int64? = nil
    ) {
        self.index = index
        self.kind = kind
        self.path = path
        self.callIndex = callIndex
        self.outcome = outcome
        self.suppressed = suppressed
        self.offset = offset
    }
}

/// An error the fault configuration injects without a random draw: a full disk, a latent sector
/// error. Not a `FaultDecision` (nothing to suppress, no index to keep stable); kept for reports
/// only and not hashed: the trace already records each call's error.
public struct ConfiguredFault: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case diskFull, latentSectorError
        /// ENOSPC that the bytes of unlinked files, held until their unlink is durable, caused.
        case diskFullHeldByUnlink
        /// With errseq fsync reporting: a sync reported a writeback error recorded earlier
        /// (by another descriptor's failed sync, or background writeback).
        case writebackErrorReported
        /// A call refused because the file system shut down, or was remounted read-only.
        case shutDown, readOnly
    }
    public var kind: Kind
    public var path: String
    public var callIndex: Int
    public var offset: Int64
    /// Human-readable, e.g. "enospc after 100 of 4096 bytes at 8192".
    public var outcome: String
}
