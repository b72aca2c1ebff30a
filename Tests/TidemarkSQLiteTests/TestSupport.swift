import Foundation
import Synchronization
import TidemarkIO
@testable import TidemarkSQLite

/// A fresh real directory (tests may use the OS; the VFS may not). On tmpfs (`/dev/shm`) when
/// there is one: the tests check behaviour, not the disk, and fsync latency on a shared disk
/// would make the suite's run time depend on other machines' load.
func makeTemporaryDirectory(_ label: String = #function) throws -> String {
    let name = label.filter { $0.isLetter || $0.isNumber }
    let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : FileManager.default.temporaryDirectory.path
    let template = base + "/tidemark-sqlite-\(name)-XXXXXX"
    var bytes = Array(template.utf8CString)
    guard let result = mkdtemp(&bytes) else { throw FileSystemError(.io, "mkdtemp failed", path: template) }
    return String(cString: result)
}

func removeDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// One call an `InstrumentedFileSystem` saw, with the path as the VFS gave it.
struct FileSystemEvent: Sendable, Hashable, CustomStringConvertible {
    enum Kind: String, Sendable { case open, read, write, truncate, sync, syncData, close, size, remove, rename, syncDirectory, status, createDirectory, listDirectory }
    var kind: Kind
    var path: String
    var description: String { "\(kind.rawValue) \(path)" }
}

/// A `FileSystem` wrapper for tests. It maps the paths it is given under `root` on the base
/// file system (so a database the VFS calls `/db/main.sqlite` lives somewhere only this wrapper
/// knows: anything that bypassed the FileSystem would miss it), records every call, and fails
/// writes or syncs on request.
final class InstrumentedFileSystem: FileSystem {
    struct Faults: Sendable {
        /// Writes to paths ending in `pathFilter` (all paths when nil) throw this code.
        var failWrites: FileSystemError.Code?
        var failSyncs: FileSystemError.Code?
        var pathFilter: String?
    }

    let base: any FileSystem
    let root: String
    private let log = Mutex<[FileSystemEvent]>([])
    /// Every data-moving call with its offset and length, as text: for comparing whole traces.
    private let detail = Mutex<[String]>([])
    let faults = Mutex(Faults())

    init(base: any FileSystem = PosixFileSystem(), root: String) {
        self.base = base
        self.root = root
    }

    var events: [FileSystemEvent] { log.withLock { $0 } }
    var detailedTrace: [String] { detail.withLock { $0 } }
    func note(_ line: String) { detail.withLock { $0.append(line) } }
    func clearEvents() { log.withLock { $0.removeAll() } }

    func record(_ kind: FileSystemEvent.Kind, _ path: String, _ extra: String = "") {
        log.withLock { $0.append(FileSystemEvent(kind: kind, path: path)) }
        note("\(kind.rawValue) \(path)\(extra)")
    }

    func real(_ path: String) -> String { FilePaths.join(root, path) }

    func fault(_ keyPath: KeyPath<Faults, FileSystemError.Code?>, path: String, operation: String) throws {
        let (code, filter) = faults.withLock { ($0[keyPath: keyPath], $0.pathFilter) }
        guard let code else { return }
        if let filter, !path.hasSuffix(filter) { return }
        throw FileSystemError(code, "injected \(operation) failure", path: path)
    }

    func open(_ path: String, options: OpenOptions) throws -> any FileHandleProtocol {
        record(.open, path)
        return InstrumentedHandle(owner: self, base: try base.open(real(path), options: options), path: path)
    }
    func createDirectory(_ path: String) throws { record(.createDirectory, path); try base.createDirectory(real(path)) }
    func listDirectory(_ path: String) throws -> [String] { record(.listDirectory, path); return try base.listDirectory(real(path)) }
    func remove(_ path: String) throws { record(.remove, path); try base.remove(real(path)) }
    func rename(_ source: String, to destination: String) throws {
        record(.rename, source)
        try base.rename(real(source), to: real(destination))
    }
    func syncDirectory(_ path: String) throws {
        record(.syncDirectory, path)
        try fault(\.failSyncs, path: path, operation: "directory sync")
        try base.syncDirectory(real(path))
    }
    func status(_ path: String) throws -> FileStatus { record(.status, path); return try base.status(real(path)) }
    func lockFile(_ path: String, exclusive: Bool) throws -> any FileHandleProtocol {
        try base.lockFile(real(path), exclusive: exclusive)
    }
}

final class InstrumentedHandle: FileHandleProtocol {
    let owner: InstrumentedFileSystem
    let base: any FileHandleProtocol
    let path: String

    init(owner: InstrumentedFileSystem, base: any FileHandleProtocol, path: String) {
        self.owner = owner
        self.base = base
        self.path = path
    }

    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        owner.record(.read, path, " @\(offset)+\(count)")
        return try base.read(at: offset, count: count)
    }
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        owner.record(.write, path, " @\(offset)+\(bytes.count)")
        try owner.fault(\.failWrites, path: path, operation: "write")
        try base.write(bytes, at: offset)
    }
    func size() throws -> Int64 { owner.record(.size, path); return try base.size() }
    func truncate(to size: Int64) throws { owner.record(.truncate, path, " to \(size)"); try base.truncate(to: size) }
    func sync() throws {
        owner.record(.sync, path)
        try owner.fault(\.failSyncs, path: path, operation: "sync")
        try base.sync()
    }
    func syncData() throws {
        owner.record(.syncData, path)
        try owner.fault(\.failSyncs, path: path, operation: "sync")
        try base.syncData()
    }
    func close() throws { owner.record(.close, path); try base.close() }
}

/// Runs `body` with a fresh real temp directory and a VFS over `PosixFileSystem`.
func withPosixVFS<T>(
    seed: UInt64 = 1, _ label: String = #function, _ body: (String, SQLiteVFS) throws -> T
) throws -> T {
    let directory = try makeTemporaryDirectory(label)
    defer { removeDirectory(directory) }
    let vfs = try SQLiteVFS(fileSystem: PosixFileSystem(), clock: ManualClock(), random: SeededRandom(seed: seed))
    defer { vfs.unregister() }
    return try body(directory, vfs)
}
