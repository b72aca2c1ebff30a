/// Which crash states a file system may leave: the rules `CrashStateEnumerator` enumerates by.
///
/// Every model keeps what was synced, treats a rename (and every directory operation) as all or
/// nothing, and never lets a directory operation survive without the earlier pending operations
/// on the same node or entry name (a journal commits them together). Then:
///
/// - `weakest` (POSIX promises nothing more; ext4 `data=writeback`, most of what ALICE calls
///   "arbitrary"): any subset of the pending changes, in any order. A write spanning several
///   sectors may be torn at every sector boundary (its first or last sectors landed), and a lost
///   append may still grow the file, its bytes reading as zeros (metadata before data).
/// - `ext4Ordered` (ext4 `data=ordered`, the default): metadata is journaled in issue order, so
///   the surviving metadata changes (directory operations, appends that grow a file, truncates)
///   form a prefix of them in issue order; a file's data reaches the disk before the journal
///   commits a metadata change of that file, so a surviving metadata change implies that every
///   earlier write to the same file survived whole (the rename-replace and append patterns are
///   safe without fsync). A growing append is never torn and never grows the file without its
///   data; overwrites inside the file may still be torn or lost in any order.
/// - `noPowersafeOverwrite`: `weakest`, and a write that does not land whole may leave the
///   sectors of the file it did not land in holding garbage (a disk without SQLite's "powersafe
///   overwrite": a sector being written when the power failed reads back as neither old nor new).
public enum PersistenceModel: String, Codable, Sendable, Hashable, CaseIterable {
    case weakest
    case ext4Ordered = "ext4-ordered"
    case noPowersafeOverwrite = "no-powersafe-overwrite"

    /// Whether a multi-sector write may land in part.
    func mayTear(_ change: CrashChange) -> Bool {
        guard change.kind == .write, change.sectorCount > 1 else { return false }
        return !(self == .ext4Ordered && change.growsFile)
    }

    /// Whether a lost append may still grow the file (its bytes reading as zeros).
    func mayGrowWithoutData(_ change: CrashChange) -> Bool {
        self != .ext4Ordered && change.kind == .write && change.growsFile
    }

    /// Whether unlanded sectors of a write may hold garbage: when its first sector already holds
    /// bytes of the file (an overwrite, or an append starting mid-sector, whose garbage takes the
    /// synced bytes before it in that sector). Only sectors inside the file's existing size can
    /// show it: a lost append never grows the file in this model.
    func mayLeaveGarbage(_ change: CrashChange) -> Bool {
        self == .noPowersafeOverwrite && change.kind == .write && change.sharesSectorWithExistingBytes
    }

    /// Whether the change is a journaled metadata change (ordered under `ext4Ordered`).
    func isOrderedMetadata(_ change: CrashChange) -> Bool {
        self == .ext4Ordered && (change.isDirectoryOperation || change.growsFile || change.kind == .truncate)
    }
}
