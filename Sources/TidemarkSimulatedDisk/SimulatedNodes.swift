import TidemarkIO

/// A pending (not yet durable) change to one file: a write or a truncate.
struct PendingChange {
    /// The path of the handle that issued it (for reports).
    var path: String
    var callIndex: Int
    /// Intended write offset, or the new size of a truncate.
    var offset: Int64
    /// The bytes written (shared with the caller's array: no copy); empty for a truncate.
    var bytes: [UInt8]
    var isTruncate: Bool
    /// Where the disk will actually put the bytes (differs from `offset` for a misdirected write).
    var landingOffset: Int64

    var end: Int64 { offset + Int64(bytes.count) }
    var landingEnd: Int64 { landingOffset + Int64(bytes.count) }
    var isMisdirected: Bool { landingOffset != offset }

    /// Applies the change to a durable image exactly as issued (no tearing): the bytes go to the
    /// landing offset, the size grows to the intended end (metadata is right even when the data
    /// was misdirected).
    func apply(to image: inout [UInt8]) {
        if isTruncate {
            image.resize(to: Int(offset))
            return
        }
        image.write(bytes, at: Int(landingOffset))
        if image.count < Int(end) { image.resize(to: Int(end)) }
    }
}

/// A regular file's inode: what reads see (`volatile`, the page cache), what is on disk
/// (`durable`), and the ordered changes in between.
final class SimulatedInode {
    let id: Int
    var volatile: [UInt8] = []
    var durable: [UInt8] = []
    var pending: [PendingChange] = []
    /// Changes a failed fsync marked clean: readable until the crash, never durable.
    var lostToFsyncError: [PendingChange] = []
    /// Whether a name refers to it in the volatile namespace.
    var linked = true
    var openHandles = 0
    /// Per-file reporting (`FsyncErrorReporting.perFile`): after a failed fsync the next one
    /// succeeds (the error was reported once).
    var lastSyncFailed = false
    /// Writeback errors recorded on the file (Linux errseq): each descriptor reports the ones
    /// newer than it has seen.
    var writebackErrors = WritebackErrorSequence()

    init(id: Int) { self.id = id }

    /// Makes pending changes `0..<count` durable, in order.
    func flushPending(count: Int) {
        for change in pending[0..<count] { change.apply(to: &durable) }
        pending.removeFirst(count)
    }

    /// A failed writeback (fsync EIO, background writeback, ENOSPC at allocation): as on Linux,
    /// the dirty pages are marked clean. Reads still see them; the disk never gets them.
    func markPendingClean() {
        lostToFsyncError.append(contentsOf: pending)
        pending.removeAll()
    }
}

/// Linux's `errseq_t` for one file: how many writeback errors were recorded, and the latest
/// one's code (EIO, or ENOSPC from delayed allocation). A descriptor samples `count` when it
/// opens and, at its next sync, reports `latest` once if the count moved since.
struct WritebackErrorSequence {
    private(set) var count = 0
    private(set) var latest: FileSystemError.Code = .io

    mutating func record(_ code: FileSystemError.Code) {
        count += 1
        latest = code
    }
}

/// A directory: its volatile entries (what lookups see) and durable entries (what survives a
/// power loss once pending entry operations are settled).
final class SimulatedDirectory {
    let id: Int
    var entries: [String: SimulatedNode] = [:]
    var durableEntries: [String: SimulatedNode] = [:]

    init(id: Int) { self.id = id }

    /// Entry names sorted bytewise, as `PosixFileSystem.listDirectory` sorts them.
    var sortedNames: [String] { entries.keys.sorted(by: bytewiseLess) }
    var sortedDurableNames: [String] { durableEntries.keys.sorted(by: bytewiseLess) }
}

func bytewiseLess(_ a: String, _ b: String) -> Bool {
    // Over contiguous UTF-8 (every native string): the generic sequence comparison costs a
    // call per byte, and sorting names is most of a crash clone's namespace walk.
    if let less = a.utf8.withContiguousStorageIfAvailable({ x in
        b.utf8.withContiguousStorageIfAvailable { y in
            let common = min(x.count, y.count)
            for index in 0..<common where x[index] != y[index] { return x[index] < y[index] }
            return x.count < y.count
        }
    }), let less { return less }
    return a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// What a name refers to.
enum SimulatedNode {
    case file(SimulatedInode)
    case directory(SimulatedDirectory)

    /// The inode or directory number (unique within a file system).
    var id: Int {
        switch self {
        case .file(let inode): inode.id
        case .directory(let directory): directory.id
        }
    }

    func isSame(as other: SimulatedNode?) -> Bool {
        switch (self, other) {
        case (.file(let a), .file(let b)?): return a === b
        case (.directory(let a), .directory(let b)?): return a === b
        default: return false
        }
    }
}

/// A directory entry change not yet made durable by `syncDirectory`.
///
/// Directories are referenced by identity, not path, so the operation still means the same
/// thing after an ancestor is renamed. A rename is one operation in both directories: syncing
/// either one commits it whole (a journaling file system commits both halves in one
/// transaction), so it is never half done.
struct PendingDirectoryOperation {
    var kind: CrashReport.DirectoryOperationKind
    var directory: SimulatedDirectory
    var name: String
    /// Rename target directory and name.
    var destinationDirectory: SimulatedDirectory?
    var destinationName: String?
    var node: SimulatedNode
    var path: String
    var destinationPath: String?
    var callIndex: Int

    /// A directory entry: (directory number, name).
    struct EntryKey: Hashable {
        var directory: Int
        var name: String
    }

    /// The entries this operation changes.
    var entryKeys: [EntryKey] {
        var keys = [EntryKey(directory: directory.id, name: name)]
        if let destinationDirectory, let destinationName {
            keys.append(EntryKey(directory: destinationDirectory.id, name: destinationName))
        }
        return keys
    }

    func touches(_ candidate: SimulatedDirectory) -> Bool {
        directory === candidate || destinationDirectory === candidate
    }

    /// Applies the operation to the durable entries.
    func applyDurably() {
        switch kind {
        case .createFile, .createDirectory:
            directory.durableEntries[name] = node
        case .remove:
            if node.isSame(as: directory.durableEntries[name]) { directory.durableEntries[name] = nil }
        case .rename:
            if node.isSame(as: directory.durableEntries[name]) { directory.durableEntries[name] = nil }
            if let destinationDirectory, let destinationName {
                destinationDirectory.durableEntries[destinationName] = node
            }
        }
    }
}

extension Array where Element == UInt8 {
    /// Sets the count, cutting or zero-extending, in place.
    mutating func resize(to newCount: Int) {
        if newCount < count {
            removeSubrange(newCount...)
        } else if newCount > count {
            append(contentsOf: repeatElement(0, count: newCount - count))
        }
    }

    /// Overwrites at `offset`, zero-filling any gap and extending as needed, in place (one
    /// `memcpy`; no copy of the array when it is uniquely referenced).
    mutating func write(_ bytes: ArraySlice<UInt8>, at offset: Int) {
        let end = offset + bytes.count
        if count < end { resize(to: end) }
        bytes.withUnsafeBytes { source in
            withUnsafeMutableBytes { target in
                guard let base = source.baseAddress, source.count > 0 else { return }
                (target.baseAddress! + offset).copyMemory(from: base, byteCount: source.count)
            }
        }
    }

    mutating func write(_ bytes: [UInt8], at offset: Int) { write(bytes[...], at: offset) }
}
