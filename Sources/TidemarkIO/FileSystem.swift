/// How a file is opened. Mirrors the `open(2)` flags Tidemark needs, nothing more.
public struct OpenOptions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let read = OpenOptions(rawValue: 1 << 0)
    public static let write = OpenOptions(rawValue: 1 << 1)
    /// `O_CREAT`: create the file when missing.
    public static let create = OpenOptions(rawValue: 1 << 2)
    /// `O_EXCL` (with `.create`): fail with `.exists` when the path exists.
    public static let exclusive = OpenOptions(rawValue: 1 << 3)
    /// `O_TRUNC`: cut the file to zero length on open (needs `.write`).
    public static let truncate = OpenOptions(rawValue: 1 << 4)

    public static let readWrite: OpenOptions = [.read, .write]
    /// Create a brand-new file for writing and reading; fails if it exists.
    public static let createNew: OpenOptions = [.read, .write, .create, .exclusive]
}

/// What `stat` tells.
public struct FileStatus: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable { case file, directory }
    public var kind: Kind
    /// Bytes in the file (as reads see it); 0 for directories.
    public var size: Int64
    public init(kind: Kind, size: Int64) {
        self.kind = kind
        self.size = size
    }
}

/// A file system as the store and every test subject see it: synchronous, throwing,
/// POSIX-level.
///
/// Paths are plain strings with `/` separators, absolute or relative to the implementation's
/// root. Every method throws `FileSystemError` and nothing else.
///
/// Durability contract (the one real disks give, which `SimulatedFileSystem` enforces):
/// - A write is durable only after `sync`/`syncData` on that file succeeds.
/// - Creating, renaming or removing a directory entry is durable only after `syncDirectory`
///   on the parent directory succeeds. Syncing a file does not make its name durable.
/// - `close` is not `sync`: closing a handle makes nothing durable.
/// - `rename` is atomic: after any crash the target names the old file or the new one.
public protocol FileSystem: AnyObject, Sendable {
    /// Opens (and with `.create`, creates) a regular file. `open(2)`.
    func open(_ path: String, options: OpenOptions) throws -> any FileHandleProtocol
    /// Creates one directory; the parent must exist. `mkdir(2)`.
    func createDirectory(_ path: String) throws
    /// The names in a directory, sorted, without `.` and `..`. `readdir(3)`.
    func listDirectory(_ path: String) throws -> [String]
    /// Removes a file, or an empty directory. `unlink(2)` / `rmdir(2)`.
    func remove(_ path: String) throws
    /// Atomically renames `source` to `destination`, replacing a file there. `rename(2)`.
    func rename(_ source: String, to destination: String) throws
    /// Makes the directory's entries (creates, renames, removes) durable. `fsync(2)` on the
    /// directory opened with `O_DIRECTORY`.
    func syncDirectory(_ path: String) throws
    /// Kind and size of a path. `stat(2)`; throws `.notFound` when absent.
    func status(_ path: String) throws -> FileStatus
    /// Takes an advisory lock on the whole file at `path` without waiting: `flock(2)` with
    /// `LOCK_EX|LOCK_NB` (`exclusive`: the file is opened read-write, created when missing) or
    /// `LOCK_SH|LOCK_NB` (opened read-only; it must exist). The lock belongs to the returned
    /// handle's open file description: `close`, or the death of the process, releases it. A
    /// conflicting lock held through any other open, in this process or another, fails at once
    /// with `.wouldBlock`.
    func lockFile(_ path: String, exclusive: Bool) throws -> any FileHandleProtocol
}

/// An open file. Positional I/O only: there is no shared cursor to race on.
public protocol FileHandleProtocol: AnyObject, Sendable {
    /// The path the file was opened with.
    var path: String { get }
    /// Reads up to `count` bytes at `offset`; fewer only at end of file. `pread(2)`.
    func read(at offset: Int64, count: Int) throws -> [UInt8]
    /// The same read into `buffer` (replacing its contents), reusing its storage where the
    /// implementation can: a fresh buffer of many megabytes costs a page fault and a zeroed page
    /// per 4 KiB before the copy. The default is `read(at:count:)`.
    func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws
    /// Writes all of `bytes` at `offset`, extending the file as needed. `pwrite(2)`, looped.
    func write(_ bytes: [UInt8], at offset: Int64) throws
    /// Current size as reads see it. `fstat(2)`.
    func size() throws -> Int64
    /// Sets the size, cutting or zero-extending. `ftruncate(2)`.
    func truncate(to size: Int64) throws
    /// Makes the file's data and metadata (size) durable. `fsync(2)`.
    func sync() throws
    /// Makes the file's data, and its size when it changed, durable. `fdatasync(2)`.
    func syncData() throws
    /// Releases the handle. Not a sync. Further calls throw `.closed`. `close(2)`.
    func close() throws
}

// MARK: - Conveniences built only on the protocol

extension FileSystem {
    /// Whether a file or directory exists at `path`.
    public func exists(_ path: String) -> Bool {
        (try? status(path)) != nil
    }

    /// Creates `path` and any missing parents (like `mkdir -p`). Does not sync directories.
    public func createDirectories(_ path: String) throws {
        if let status = try? status(path) {
            if status.kind == .directory { return }
            throw FileSystemError(.notDirectory, "exists and is not a directory", path: path)
        }
        let parent = FilePaths.parent(of: path)
        if parent != path, !parent.isEmpty { try createDirectories(parent) }
        do { try createDirectory(path) } catch let error as FileSystemError where error.code == .exists {}
    }

    /// Reads a whole file.
    public func readFile(_ path: String) throws -> [UInt8] {
        let file = try open(path, options: .read)
        defer { try? file.close() }
        return try file.readAll()
    }

    /// Reads a whole file into `buffer`, reusing its storage (the calls `readFile` makes, in
    /// the same order).
    public func readFile(_ path: String, into buffer: inout [UInt8]) throws {
        let file = try open(path, options: .read)
        defer { try? file.close() }
        let total = try file.size()
        guard total > 0 else { return buffer.removeAll(keepingCapacity: true) }
        try file.read(at: 0, count: Int(total), into: &buffer)
    }

    /// Replaces `path` with `bytes` atomically and durably: write a temp file, sync it, rename
    /// it over `path`, sync the directory. After a crash at any point `path` holds either the
    /// old contents or all of the new ones. The temp name is `path + ".tmp"`; a leftover temp
    /// from an earlier crash is overwritten.
    public func writeFileAtomically(_ path: String, _ bytes: [UInt8]) throws {
        let temp = path + ".tmp"
        let file = try open(temp, options: [.read, .write, .create, .truncate])
        do {
            try file.write(bytes, at: 0)
            try file.sync()
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        try rename(temp, to: path)
        try syncDirectory(FilePaths.parent(of: path))
    }
}

extension FileHandleProtocol {
    /// Reads from `offset` to the end of the file.
    public func readAll(from offset: Int64 = 0) throws -> [UInt8] {
        let total = try size()
        guard total > offset else { return [] }
        return try read(at: offset, count: Int(total - offset))
    }

    public func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws {
        buffer = try read(at: offset, count: count)
    }
}

/// Path arithmetic on `/`-separated strings, shared by every implementation so they agree.
public enum FilePaths {
    /// Joins components with `/`, without doubling separators.
    public static func join(_ base: String, _ components: String...) -> String {
        var result = base
        for component in components where !component.isEmpty {
            if result.isEmpty {
                result = component
            } else if result.hasSuffix("/") {
                result += component
            } else {
                result += "/" + component
            }
        }
        return result
    }

    /// The directory containing `path` (`"."` for a bare name, `"/"` for a top-level entry).
    public static func parent(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// The last component of `path`.
    public static func name(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return String(trimmed) }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    /// Rejects what no POSIX call accepts: an empty path (ENOENT) or one with a NUL byte
    /// (which a C string would silently cut).
    public static func validate(_ path: String) throws {
        if path.isEmpty {
            throw FileSystemError(.notFound, "empty path", path: path, errno: ENOENT_VALUE)
        }
        let hasNUL = path.utf8.withContiguousStorageIfAvailable { bytes in bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false }
        if hasNUL ?? path.utf8.contains(0) {
            throw FileSystemError(.invalidArgument, "path contains a NUL byte", path: path)
        }
    }
}

#if canImport(Glibc)
import Glibc
let ENOENT_VALUE: Int32 = ENOENT
#elseif canImport(Darwin)
import Darwin
let ENOENT_VALUE: Int32 = ENOENT
#endif
