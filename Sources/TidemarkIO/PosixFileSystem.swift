#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The real thing: every call is one POSIX system call (or a loop of them), named in its doc
/// comment. Paths are used as given (absolute, or relative to the working directory).
///
/// Short reads and writes and `EINTR` are retried; every other errno is mapped by
/// `FileSystemError.fromErrno`, the same table `SimulatedFileSystem` imitates.
public final class PosixFileSystem: FileSystem {
    public init() {}

    /// `open(2)` with `O_CLOEXEC`, then `fstat(2)` to refuse directories (`.isDirectory`), which
    /// Linux would otherwise open read-only and fail on the first `read`.
    public func open(_ path: String, options: OpenOptions) throws -> any FileHandleProtocol {
        try FilePaths.validate(path)
        try HandleRules.validateOpen(options, path: path)
        var flags: Int32 = O_CLOEXEC
        switch (options.contains(.read), options.contains(.write)) {
        case (true, true): flags |= O_RDWR
        case (false, true): flags |= O_WRONLY
        default: flags |= O_RDONLY
        }
        if options.contains(.create) { flags |= O_CREAT }
        if options.contains(.exclusive) { flags |= O_EXCL }
        if options.contains(.truncate) { flags |= O_TRUNC }
        let fd = try retryingEINTR("open", path) { Glibc.open(path, flags, 0o644) }
        var info = stat()
        if fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            _ = Glibc.close(fd)
            throw FileSystemError(.isDirectory, "open of a directory as a file", path: path, errno: EISDIR)
        }
        return PosixFileHandle(fd: fd, path: path, options: options)
    }

    /// `mkdir(2)` with mode 0755.
    public func createDirectory(_ path: String) throws {
        try FilePaths.validate(path)
        _ = try retryingEINTR("mkdir", path) { mkdir(path, 0o755) }
    }

    /// `opendir(3)` / `readdir(3)`; names sorted bytewise.
    public func listDirectory(_ path: String) throws -> [String] {
        try FilePaths.validate(path)
        guard let dir = opendir(path) else {
            throw FileSystemError.fromErrno(errno, operation: "opendir", path: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// `rmdir(2)` for a directory, `unlink(2)` otherwise (decided by `lstat(2)`).
    public func remove(_ path: String) throws {
        try FilePaths.validate(path)
        var info = stat()
        if lstat(path, &info) != 0 {
            throw FileSystemError.fromErrno(errno, operation: "lstat", path: path)
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            _ = try retryingEINTR("rmdir", path) { rmdir(path) }
        } else {
            _ = try retryingEINTR("unlink", path) { unlink(path) }
        }
    }

    /// `rename(2)`.
    public func rename(_ source: String, to destination: String) throws {
        try FilePaths.validate(source)
        try FilePaths.validate(destination)
        _ = try retryingEINTR("rename", source) { Glibc.rename(source, destination) }
    }

    /// `open(2)` with `O_DIRECTORY`, `fsync(2)`, `close(2)`.
    public func syncDirectory(_ path: String) throws {
        try FilePaths.validate(path)
        let fd = try retryingEINTR("open directory", path) { Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { _ = Glibc.close(fd) }
        _ = try retryingEINTR("fsync directory", path) { fsync(fd) }
    }

    /// `stat(2)`.
    public func status(_ path: String) throws -> FileStatus {
        try FilePaths.validate(path)
        var info = stat()
        _ = try retryingEINTR("stat", path) { stat(path, &info) }
        if (info.st_mode & S_IFMT) == S_IFDIR { return FileStatus(kind: .directory, size: 0) }
        return FileStatus(kind: .file, size: Int64(info.st_size))
    }

    /// `open(2)` (read-write and `O_CREAT` for `exclusive`, else read-only), then `flock(2)`
    /// with `LOCK_NB`; `EWOULDBLOCK` becomes `.wouldBlock`.
    public func lockFile(_ path: String, exclusive: Bool) throws -> any FileHandleProtocol {
        let handle = try open(path, options: exclusive ? [.read, .write, .create] : .read)
        do {
            try (handle as! PosixFileHandle).lock(exclusive ? LOCK_EX : LOCK_SH)
        } catch {
            try? handle.close()
            throw error
        }
        return handle
    }
}

/// An open descriptor. Thread-safe: the descriptor is read under a lock, and `close` swaps it
/// for -1 so a late call fails with `.closed` rather than touching a reused descriptor number.
public final class PosixFileHandle: FileHandleProtocol {
    public let path: String
    public let options: OpenOptions
    private let descriptor: Mutex<Int32>

    init(fd: Int32, path: String, options: OpenOptions) {
        self.path = path
        self.options = options
        self.descriptor = Mutex(fd)
    }

    deinit {
        let fd = descriptor.withLock { $0 }
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    private func fd() throws -> Int32 {
        let fd = descriptor.withLock { $0 }
        if fd < 0 { throw FileSystemError(.closed, "handle is closed", path: path, errno: EBADF) }
        return fd
    }

    /// `pread(2)`, looped until `count` bytes or end of file.
    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        let fd = try fd()
        try HandleRules.validateRead(options, offset: offset, count: count, path: path)
        // Uninitialized: zero-filling first cost as much as the read itself on a large segment.
        var failure: Int32?
        let buffer = [UInt8](unsafeUninitializedCapacity: count) { raw, initialized in
            (initialized, failure) = Self.preadFully(fd, into: UnsafeMutableRawPointer(raw.baseAddress), count: count, at: offset)
        }
        if let failure { throw FileSystemError.fromErrno(failure, operation: "pread", path: path) }
        return buffer
    }

    /// `pread(2)` into `buffer`'s storage, kept when it is large enough (its pages are mapped
    /// already; zeroing them again costs a fraction of faulting fresh ones in).
    public func read(at offset: Int64, count: Int, into buffer: inout [UInt8]) throws {
        let fd = try fd()
        try HandleRules.validateRead(options, offset: offset, count: count, path: path)
        // Only the growth is zero-filled first: the old contents are overwritten or cut.
        if buffer.count < count { buffer.append(contentsOf: repeatElement(0, count: count - buffer.count)) }
        let (done, failure) = buffer.withUnsafeMutableBytes { Self.preadFully(fd, into: $0.baseAddress, count: count, at: offset) }
        buffer.removeLast(buffer.count - done)
        if let failure { throw FileSystemError.fromErrno(failure, operation: "pread", path: path) }
    }

    /// Reads until `count` bytes, end of file or an error (its errno), retrying `EINTR`.
    private static func preadFully(_ fd: Int32, into base: UnsafeMutableRawPointer?, count: Int, at offset: Int64) -> (Int, Int32?) {
        guard let base, count > 0 else { return (0, nil) }
        var done = 0
        while done < count {
            let n = pread(fd, base + done, count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                return (done, errno)
            }
            if n == 0 { break }
            done += n
        }
        return (done, nil)
    }

    /// `pwrite(2)`, looped over short writes and `EINTR`.
    public func write(_ bytes: [UInt8], at offset: Int64) throws {
        let fd = try fd()
        try HandleRules.validateWrite(options, offset: offset, path: path)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileSystemError.fromErrno(errno, operation: "pwrite", path: path)
            }
            done += n
        }
    }

    /// `fstat(2)`.
    public func size() throws -> Int64 {
        let fd = try fd()
        var info = stat()
        if fstat(fd, &info) != 0 { throw FileSystemError.fromErrno(errno, operation: "fstat", path: path) }
        return Int64(info.st_size)
    }

    /// `ftruncate(2)`.
    public func truncate(to size: Int64) throws {
        let fd = try fd()
        try HandleRules.validateTruncate(options, size: size, path: path)
        _ = try retryingEINTR("ftruncate", path) { ftruncate(fd, off_t(size)) }
    }

    /// `flock(2)` with `LOCK_NB`, retried on `EINTR`.
    func lock(_ operation: Int32) throws {
        let fd = try fd()
        while flock(fd, operation | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK {
                throw FileSystemError(.wouldBlock, "another open holds a conflicting lock", path: path, errno: errno)
            }
            throw FileSystemError.fromErrno(errno, operation: "flock", path: path)
        }
    }

    /// `fsync(2)`.
    public func sync() throws {
        let fd = try fd()
        _ = try retryingEINTR("fsync", path) { fsync(fd) }
    }

    /// `fdatasync(2)`.
    public func syncData() throws {
        let fd = try fd()
        _ = try retryingEINTR("fdatasync", path) { fdatasync(fd) }
    }

    /// `close(2)`. Not a sync.
    public func close() throws {
        let fd = descriptor.withLock { fd -> Int32 in
            let old = fd
            fd = -1
            return old
        }
        if fd < 0 { throw FileSystemError(.closed, "handle is closed", path: path, errno: EBADF) }
        // Linux releases the descriptor even when close reports an error; never retry it.
        if Glibc.close(fd) != 0 && errno != EINTR {
            throw FileSystemError.fromErrno(errno, operation: "close", path: path)
        }
    }
}

/// Runs a system call until it stops failing with `EINTR`; maps any other failure.
@discardableResult
private func retryingEINTR(_ operation: String, _ path: String, _ call: () -> Int32) throws -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        if errno == EINTR { continue }
        throw FileSystemError.fromErrno(errno, operation: operation, path: path)
    }
}
