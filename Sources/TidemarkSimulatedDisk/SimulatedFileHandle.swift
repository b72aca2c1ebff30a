import TidemarkIO

/// An open file of a `SimulatedFileSystem`. Works on the inode, so it keeps working after the
/// file is renamed or unlinked (as POSIX). Dies at a crash: later calls throw `.closed`.
/// Every call is a traced, counted file-system call.
public final class SimulatedFileHandle: FileHandleProtocol, @unchecked Sendable {
    // Mutable state is guarded by the file system's lock.
    private let fileSystem: SimulatedFileSystem
    let inode: SimulatedInode
    let epoch: Int
    var isClosed = false
    /// Holds a `lockFile` lock (released by `close`, a crash, or dropping the handle).
    var holdsLock = false
    /// How many of the file's writeback errors this descriptor has reported or was opened
    /// after (its sample of the errseq).
    var seenWritebackErrors: Int

    /// The normalised absolute path the file was opened with.
    public let path: String
    public let options: OpenOptions

    init(fileSystem: SimulatedFileSystem, inode: SimulatedInode, path: String, options: OpenOptions, epoch: Int) {
        self.fileSystem = fileSystem
        self.inode = inode
        self.path = path
        self.options = options
        self.epoch = epoch
        seenWritebackErrors = inode.writebackErrors.count
    }

    deinit {
        // As a real process's dropped descriptor: the lock goes with it (not a traced call).
        if holdsLock { fileSystem.withLock { fileSystem.releaseLock(of: self) } }
    }

    /// `pread(2)`: up to `count` bytes at `offset`, fewer at end of file.
    public func read(at offset: Int64, count: Int) throws -> [UInt8] {
        try fileSystem.handleRead(self, at: offset, count: count)
    }

    /// `pwrite(2)`: all of `bytes` at `offset`, zero-filling any gap.
    public func write(_ bytes: [UInt8], at offset: Int64) throws {
        try fileSystem.handleWrite(self, bytes, at: offset)
    }

    /// `fstat(2)`: the size reads see.
    public func size() throws -> Int64 {
        try fileSystem.handleSize(self)
    }

    /// `ftruncate(2)`.
    public func truncate(to size: Int64) throws {
        try fileSystem.handleTruncate(self, to: size)
    }

    /// `fsync(2)`: the file's data and size become durable (not its name).
    public func sync() throws {
        try fileSystem.handleSync(self, operation: .sync)
    }

    /// `fdatasync(2)`: same effect as `sync` here (the simulator keeps no other metadata).
    public func syncData() throws {
        try fileSystem.handleSync(self, operation: .syncData)
    }

    /// `close(2)`. Not a sync.
    public func close() throws {
        try fileSystem.handleClose(self)
    }
}
