import CSQLite
import Synchronization
import TidemarkIO

/// What the VFS tells SQLite about the device (`xDeviceCharacteristics`, the `SQLITE_IOCAP_*`
/// flags). SQLite trusts these: claiming `.atomic4K` or `.safeAppend` lets it skip journal work,
/// so a simulator can check what happens when the claim is a lie.
public struct SQLiteDeviceCharacteristics: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let atomic = Self(rawValue: SQLITE_IOCAP_ATOMIC)
    public static let atomic512 = Self(rawValue: SQLITE_IOCAP_ATOMIC512)
    public static let atomic1K = Self(rawValue: SQLITE_IOCAP_ATOMIC1K)
    public static let atomic2K = Self(rawValue: SQLITE_IOCAP_ATOMIC2K)
    public static let atomic4K = Self(rawValue: SQLITE_IOCAP_ATOMIC4K)
    public static let atomic8K = Self(rawValue: SQLITE_IOCAP_ATOMIC8K)
    public static let atomic16K = Self(rawValue: SQLITE_IOCAP_ATOMIC16K)
    public static let atomic32K = Self(rawValue: SQLITE_IOCAP_ATOMIC32K)
    public static let atomic64K = Self(rawValue: SQLITE_IOCAP_ATOMIC64K)
    /// Appends never leave garbage: the size grows only after the data is written.
    public static let safeAppend = Self(rawValue: SQLITE_IOCAP_SAFE_APPEND)
    /// Writes reach the device in the order issued.
    public static let sequential = Self(rawValue: SQLITE_IOCAP_SEQUENTIAL)
    public static let undeletableWhenOpen = Self(rawValue: SQLITE_IOCAP_UNDELETABLE_WHEN_OPEN)
    /// A crash during a write never damages bytes outside the written range (the unix VFS's
    /// default on Linux).
    public static let powersafeOverwrite = Self(rawValue: SQLITE_IOCAP_POWERSAFE_OVERWRITE)
    public static let immutable = Self(rawValue: SQLITE_IOCAP_IMMUTABLE)
    public static let batchAtomic = Self(rawValue: SQLITE_IOCAP_BATCH_ATOMIC)
}

/// A SQLite VFS (`sqlite3_vfs`, iVersion 2, no shared-memory methods) that routes every file
/// call SQLite makes through a `FileSystem`, and takes time, sleep and randomness from an
/// injected `Clock` and `RandomSource`.
///
/// Each instance registers itself with SQLite under a unique name (`tidemark-<n>`) when created
/// and stays alive, with its file system, until `unregister()`. Open a database through it with
/// `SQLiteConnection(path:vfs:)` or by passing `name` as the `zVfs` of `sqlite3_open_v2`.
///
/// Paths are handed to the `FileSystem` exactly as SQLite gives them (`xFullPathname` is the
/// identity): their meaning is the file system's. SQLite derives journal and WAL names by
/// appending `-journal` / `-wal`, so they land in the database's directory.
///
/// **Locking is single-process.** Locks live in a table inside this VFS instance, so connections
/// through the same instance exclude each other as SQLite expects; other processes and other
/// VFS instances on the same files are not excluded. Without shared-memory methods, WAL mode
/// works only with `PRAGMA locking_mode=EXCLUSIVE`, which callers must set *before*
/// `PRAGMA journal_mode=WAL` (SQLite refuses WAL otherwise). One connection per database with
/// `locking_mode=EXCLUSIVE` is the recommended use in every journal mode.
///
/// **Temporary files** (a NULL name, or `SQLITE_OPEN_DELETEONCLOSE`) live in the `FileSystem`
/// too, under `tidemark-temp-<16 hex digits>` names drawn from the `RandomSource`, in
/// `Configuration.temporaryDirectory` or else in the directory of the last main database opened;
/// they are removed on close. So even sorter spills are visible to (and faultable by) the file
/// system.
///
/// **Durability.** `xSync` is `sync` (`fsync`), or `syncData` (`fdatasync`) for
/// `SQLITE_SYNC_DATAONLY`. As SQLite's unix VFS does, the first sync of a journal or WAL file
/// opened with `SQLITE_OPEN_CREATE` also syncs its directory, so the file's name is durable
/// before SQLite relies on it; unlike the unix VFS, a failed directory sync is reported
/// (`SQLITE_IOERR_DIR_FSYNC`) rather than ignored. `xDelete` syncs the directory when SQLite
/// asks (its `syncDir` flag).
///
/// **Determinism.** `xRandomness`, `xSleep`, `xCurrentTime` and `xCurrentTimeInt64` use the
/// injected sources, and `SQLiteConnection` points `random()`/`randomblob()` at `random`. One
/// thing stays outside: SQLite's process-wide PRNG, seeded once from the *default* VFS, picks
/// the rollback-journal nonce and the WAL salts, so those bytes differ between runs (the
/// database file itself does not).
///
/// **Crashes.** `fence()` stops all file-system traffic so a connection can be dropped the way
/// a crash would leave it.
public final class SQLiteVFS: @unchecked Sendable {
    // @unchecked: the only non-Sendable stored properties are the C structs SQLite owns a
    // pointer to; they are written once in init and freed in deinit. Mutable state is in `state`.

    /// What the VFS reports to SQLite and where it puts temporary files.
    public struct Configuration: Sendable {
        /// `xSectorSize`: the unit SQLite assumes a crash can damage. The unix VFS says 4096.
        public var sectorSize: Int32
        /// `xDeviceCharacteristics`.
        public var deviceCharacteristics: SQLiteDeviceCharacteristics
        /// Where temporary files go; nil means the directory of the last main database opened.
        public var temporaryDirectory: String?
        /// `mxPathname`: the longest path SQLite may hand us, in bytes.
        public var maxPathLength: Int32
        /// Seal every full-page write and verify every full-page read of a main database file
        /// whose header reserves 8 bytes per page (`SQLitePageChecksum`); a failing page is
        /// `SQLITE_IOERR_DATA`, its `SQLitePageChecksum.Mismatch` the recorded error's cause.
        public var pageChecksums: Bool

        public init(
            sectorSize: Int32 = 4096,
            deviceCharacteristics: SQLiteDeviceCharacteristics = [.powersafeOverwrite],
            temporaryDirectory: String? = nil,
            maxPathLength: Int32 = 512,
            pageChecksums: Bool = false
        ) {
            self.sectorSize = sectorSize
            self.deviceCharacteristics = deviceCharacteristics
            self.temporaryDirectory = temporaryDirectory
            self.maxPathLength = maxPathLength
            self.pageChecksums = pageChecksums
        }
    }

    /// The name SQLite knows this VFS by (`tidemark-<n>`).
    public let name: String
    public let fileSystem: any FileSystem
    public let clock: any Clock
    public let random: any RandomSource
    public let configuration: Configuration

    /// The registered `sqlite3_vfs`. Its `pAppData` is a retained pointer to `self`.
    let vfsPointer: UnsafeMutablePointer<sqlite3_vfs>
    private let namePointer: UnsafeMutablePointer<CChar>
    let state = Mutex(State())

    struct State {
        var registered = false
        var fenced = false
        /// The last error a `FileSystem` call raised inside a VFS method, and how many so far.
        var lastError: FileSystemError?
        var errorCount: UInt64 = 0
        var lastMainDatabaseDirectory: String?
        var locks: [String: PathLock] = [:]
    }

    /// Who holds which lock on one path; SQLite's five-level lock (NONE < SHARED < RESERVED <
    /// PENDING < EXCLUSIVE) kept per file object, the way the unix VFS keeps it per inode.
    struct PathLock {
        var sharedCount = 0
        var reserved: ObjectIdentifier?
        var pending: ObjectIdentifier?
        var exclusive: ObjectIdentifier?
        var isIdle: Bool { sharedCount == 0 && reserved == nil && pending == nil && exclusive == nil }
    }

    private static let instanceCounter = Atomic<Int>(0)

    /// Creates the VFS and registers it with SQLite (`sqlite3_vfs_register`, not as default).
    public init(
        fileSystem: any FileSystem,
        clock: any Clock,
        random: any RandomSource,
        configuration: Configuration = Configuration()
    ) throws {
        let number = Self.instanceCounter.wrappingAdd(1, ordering: .relaxed).newValue
        name = "tidemark-\(number)"
        self.fileSystem = fileSystem
        self.clock = clock
        self.random = random
        self.configuration = configuration
        namePointer = copyCString(name)
        vfsPointer = .allocate(capacity: 1)
        vfsPointer.initialize(to: makeVFSStruct(name: namePointer, maxPathLength: configuration.maxPathLength))

        vfsPointer.pointee.pAppData = Unmanaged.passRetained(self).toOpaque()
        let rc = sqlite3_vfs_register(vfsPointer, 0)
        if rc != SQLITE_OK {
            Unmanaged<SQLiteVFS>.fromOpaque(vfsPointer.pointee.pAppData).release()
            throw SQLiteError(code: rc, message: "sqlite3_vfs_register(\(name)) failed")
        }
        state.withLock { $0.registered = true }
    }

    deinit {
        vfsPointer.deinitialize(count: 1)
        vfsPointer.deallocate()
        namePointer.deallocate()
    }

    /// Removes the VFS from SQLite's list (`sqlite3_vfs_unregister`) and drops the reference
    /// that kept it alive. Connections already open through it keep working (they hold the
    /// VFS); new opens by name fail. Idempotent.
    public func unregister() {
        let wasRegistered = state.withLock { state -> Bool in
            defer { state.registered = false }
            return state.registered
        }
        guard wasRegistered else { return }
        sqlite3_vfs_unregister(vfsPointer)
        Unmanaged<SQLiteVFS>.fromOpaque(vfsPointer.pointee.pAppData).release()
    }

    /// Cuts the VFS off from its file system, for crash simulation: from now on every VFS call
    /// that would reach the `FileSystem` fails (`SQLITE_IOERR_*`, or `SQLITE_CANTOPEN` for an
    /// open) without calling it, with a `.closed` error recorded. Fence, then drop the
    /// connection: nothing it does on the way down (rollback, the WAL checkpoint at close,
    /// journal deletion) reaches the files, which stay as the "crash" left them. Irreversible;
    /// reopen through a new VFS.
    public func fence() {
        state.withLock { $0.fenced = true }
    }

    /// The file system, or a `.closed` error once `fence()` was called.
    func liveFileSystem(for path: String) throws -> any FileSystem {
        if state.withLock({ $0.fenced }) {
            throw FileSystemError(.closed, "VFS \(name) is fenced: no further file-system calls", path: path)
        }
        return fileSystem
    }

    /// Whether SQLite can currently find this VFS by name.
    public var isRegistered: Bool { state.withLock { $0.registered } }

    /// The last `FileSystemError` a VFS method saw (also what `xGetLastError` reports).
    public var lastError: FileSystemError? { state.withLock { $0.lastError } }

    /// How many file-system errors the VFS has seen; a connection compares it before and after
    /// a call to decide whether a failure came from the file system.
    public var errorCount: UInt64 { state.withLock { $0.errorCount } }

    /// The last error, if one was recorded after `errorCount` was `mark`.
    func error(since mark: UInt64) -> FileSystemError? {
        state.withLock { $0.errorCount > mark ? $0.lastError : nil }
    }

    func record(_ error: any Error, path: String) {
        let fileSystemError = error as? FileSystemError
            ?? FileSystemError(.unknown, "\(error)", path: path)
        state.withLock {
            $0.lastError = fileSystemError
            $0.errorCount += 1
        }
    }

    /// A fresh path for a temporary file, named from the `RandomSource`.
    func temporaryPath() -> String {
        let directory = configuration.temporaryDirectory
            ?? state.withLock { $0.lastMainDatabaseDirectory } ?? "."
        let suffix = String(random.next(), radix: 16)
        return FilePaths.join(directory, "tidemark-temp-" + String(repeating: "0", count: 16 - suffix.count) + suffix)
    }

    func noteMainDatabase(path: String) {
        state.withLock { $0.lastMainDatabaseDirectory = FilePaths.parent(of: path) }
    }

    static func from(_ pointer: UnsafeMutablePointer<sqlite3_vfs>?) -> SQLiteVFS {
        Unmanaged<SQLiteVFS>.fromOpaque(pointer!.pointee.pAppData).takeUnretainedValue()
    }

    // MARK: Locks

    /// `xLock`: raises `file`'s lock to `level`, or returns `SQLITE_BUSY`.
    func lock(_ file: SQLiteVFSFile, to level: Int32) -> Int32 {
        state.withLock { state in
            if file.lockLevel >= level { return SQLITE_OK }
            let me = ObjectIdentifier(file)
            var entry = state.locks[file.path, default: PathLock()]
            defer { state.locks[file.path] = entry.isIdle ? nil : entry }
            switch level {
            case SQLITE_LOCK_SHARED:
                // A writer waiting for (PENDING) or holding EXCLUSIVE keeps new readers out.
                if entry.pending != nil || entry.exclusive != nil { return SQLITE_BUSY }
                entry.sharedCount += 1
                file.lockLevel = SQLITE_LOCK_SHARED
            case SQLITE_LOCK_RESERVED:
                if entry.reserved != nil || entry.pending != nil || entry.exclusive != nil { return SQLITE_BUSY }
                entry.reserved = me
                file.lockLevel = SQLITE_LOCK_RESERVED
            default:  // EXCLUSIVE (SQLite never asks for PENDING directly)
                if let other = entry.pending, other != me { return SQLITE_BUSY }
                if let other = entry.reserved, other != me { return SQLITE_BUSY }
                entry.pending = me
                file.lockLevel = SQLITE_LOCK_PENDING
                // Readers drain while PENDING keeps new ones out; SQLite retries.
                if entry.sharedCount > 1 { return SQLITE_BUSY }
                entry.exclusive = me
                file.lockLevel = SQLITE_LOCK_EXCLUSIVE
            }
            return SQLITE_OK
        }
    }

    /// `xUnlock`: lowers `file`'s lock to `level` (SHARED or NONE).
    func unlock(_ file: SQLiteVFSFile, to level: Int32) -> Int32 {
        state.withLock { state in
            if file.lockLevel <= level { return SQLITE_OK }
            let me = ObjectIdentifier(file)
            var entry = state.locks[file.path, default: PathLock()]
            if entry.reserved == me { entry.reserved = nil }
            if entry.pending == me { entry.pending = nil }
            if entry.exclusive == me { entry.exclusive = nil }
            if level == SQLITE_LOCK_NONE && file.lockLevel >= SQLITE_LOCK_SHARED { entry.sharedCount -= 1 }
            file.lockLevel = level
            state.locks[file.path] = entry.isIdle ? nil : entry
            return SQLITE_OK
        }
    }

    /// `xCheckReservedLock`: whether any connection holds RESERVED or more on the path.
    func isReserved(_ file: SQLiteVFSFile) -> Bool {
        state.withLock { state in
            guard let entry = state.locks[file.path] else { return false }
            return entry.reserved != nil || entry.pending != nil || entry.exclusive != nil
        }
    }
}

/// The Swift side of one open SQLite file: the handle plus what the VFS tracks about it.
final class SQLiteVFSFile {
    let vfs: SQLiteVFS
    let handle: any FileHandleProtocol
    let path: String
    let deleteOnClose: Bool
    /// Set for a journal or WAL opened with CREATE: its directory is synced on its first sync.
    var needsDirectorySync: Bool
    /// Guarded by `vfs.state`'s lock.
    var lockLevel: Int32 = SQLITE_LOCK_NONE
    /// For a main database file under `Configuration.pageChecksums`: whether its header reserves
    /// the checksum, as last seen in bytes read or written at offset 0 (nil: not seen yet, or
    /// not checked at all). SQLite reads the header before any page, and a checkpoint writes
    /// page 1 first, so it is known before the first page that needs it.
    var pageChecksumsOn: Bool?
    let checksPages: Bool

    /// The handle, or a `.closed` error once the VFS is fenced.
    func liveHandle() throws -> any FileHandleProtocol {
        _ = try vfs.liveFileSystem(for: path)
        return handle
    }

    init(
        vfs: SQLiteVFS, handle: any FileHandleProtocol, path: String, deleteOnClose: Bool, needsDirectorySync: Bool,
        checksPages: Bool = false
    ) {
        self.checksPages = checksPages
        self.vfs = vfs
        self.handle = handle
        self.path = path
        self.deleteOnClose = deleteOnClose
        self.needsDirectorySync = needsDirectorySync
    }

    /// Notes the header in bytes at `offset` 0, then: the page number when `amount` bytes at
    /// `offset` are a full page this file checksums, else nil.
    func checksummedPage(_ bytes: UnsafeRawBufferPointer, amount: Int, offset: Int64) -> UInt32? {
        guard checksPages else { return nil }
        if offset == 0, let reserves = SQLitePageChecksum.headerReservesChecksum(bytes) { pageChecksumsOn = reserves }
        guard pageChecksumsOn == true, SQLitePageChecksum.isFullPage(amount: amount, offset: offset) else { return nil }
        return SQLitePageChecksum.pageNumber(amount: amount, offset: offset)
    }
}

private func copyCString(_ string: String) -> UnsafeMutablePointer<CChar> {
    let utf8 = Array(string.utf8CString)
    let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
    pointer.initialize(from: utf8, count: utf8.count)
    return pointer
}
