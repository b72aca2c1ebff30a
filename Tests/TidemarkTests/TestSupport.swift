import Foundation
import Testing
import Synchronization
import TidemarkIO

@testable import Tidemark

/// A fresh directory under /tmp, removed when the value is deinitialised.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/tidemark-test-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { FilePaths.join(path, name) }
}

/// Wraps a file system to count syncs and inject the failures the store must handle:
/// a failing sync, and a full disk (a write lands only its first half, then ENOSPC).
final class InstrumentedFileSystem: FileSystem {
    struct Faults {
        /// How many of the next syncs fail with EIO.
        var failingSyncs = 0
        /// Writes to paths containing this fail with ENOSPC after landing half their bytes.
        var diskFullFor: String?
        /// Runs at the start of every sync (file or directory) with the path, outside the lock.
        var beforeSync: (@Sendable (String) -> Void)?
    }

    /// What went through the file system: calls, bytes read and written.
    struct Traffic: Equatable {
        var calls = 0
        var bytesRead = 0
        var bytesWritten = 0
    }

    let base: any FileSystem
    let faults = Mutex(Faults())
    private let syncs = Atomic<Int>(0)
    private let counted = Mutex(Traffic())

    init(_ base: any FileSystem = PosixFileSystem()) { self.base = base }

    var syncCount: Int { syncs.load(ordering: .relaxed) }
    var traffic: Traffic { counted.withLock { $0 } }

    /// The traffic `body` causes.
    func measure<T>(_ body: () throws -> T) rethrows -> (T, Traffic) {
        let before = traffic
        let result = try body()
        let after = traffic
        return (result, Traffic(
            calls: after.calls - before.calls, bytesRead: after.bytesRead - before.bytesRead,
            bytesWritten: after.bytesWritten - before.bytesWritten))
    }

    fileprivate func count(read: Int = 0, written: Int = 0) {
        counted.withLock {
            $0.calls += 1
            $0.bytesRead += read
            $0.bytesWritten += written
        }
    }

    func open(_ path: String, options: OpenOptions) throws -> any FileHandleProtocol {
        count()
        return InstrumentedHandle(try base.open(path, options: options), owner: self)
    }
    func createDirectory(_ path: String) throws {
        count()
        try base.createDirectory(path)
    }
    func listDirectory(_ path: String) throws -> [String] {
        count()
        return try base.listDirectory(path)
    }
    func remove(_ path: String) throws {
        count()
        try base.remove(path)
    }
    func rename(_ source: String, to destination: String) throws {
        count()
        try base.rename(source, to: destination)
    }
    func syncDirectory(_ path: String) throws {
        count()
        try checkSync(path)
        try base.syncDirectory(path)
    }
    func status(_ path: String) throws -> FileStatus {
        count()
        return try base.status(path)
    }
    func lockFile(_ path: String, exclusive: Bool) throws -> any FileHandleProtocol {
        count()
        return try base.lockFile(path, exclusive: exclusive)
    }

    fileprivate func checkSync(_ path: String) throws {
        syncs.add(1, ordering: .relaxed)
        faults.withLock { $0.beforeSync }?(path)
        let fail = faults.withLock { faults in
            guard faults.failingSyncs > 0 else { return false }
            faults.failingSyncs -= 1
            return true
        }
        if fail { throw FileSystemError(.io, "injected fsync failure", path: path) }
    }
}

final class InstrumentedHandle: FileHandleProtocol {
    let base: any FileHandleProtocol
    let owner: InstrumentedFileSystem
    init(_ base: any FileHandleProtocol, owner: InstrumentedFileSystem) {
        self.base = base
        self.owner = owner
    }
    var path: String { base.path }
    func read(at offset: Int64, count: Int) throws -> [UInt8] {
        let bytes = try base.read(at: offset, count: count)
        owner.count(read: bytes.count)
        return bytes
    }
    func write(_ bytes: [UInt8], at offset: Int64) throws {
        owner.count(written: bytes.count)
        if let full = owner.faults.withLock({ $0.diskFullFor }), full.isEmpty || path.contains(full) {
            try base.write(Array(bytes.prefix(bytes.count / 2)), at: offset)
            throw FileSystemError(.noSpace, "injected ENOSPC", path: path)
        }
        try base.write(bytes, at: offset)
    }
    func size() throws -> Int64 { try base.size() }
    func truncate(to size: Int64) throws { try base.truncate(to: size) }
    func sync() throws {
        owner.count()
        try owner.checkSync(path)
        try base.sync()
    }
    func syncData() throws {
        owner.count()
        try owner.checkSync(path)
        try base.syncData()
    }
    func close() throws { try base.close() }
}

/// Opens a store on the real disk with a deterministic clock and random source.
func openStore(
    _ directory: TemporaryDirectory, fileSystem: any FileSystem = PosixFileSystem(), clock: any Clock = ManualClock(),
    seed: UInt64 = 1, options: StoreOptions = StoreOptions()
) throws -> Store {
    try Store.open(at: directory.path, fileSystem: fileSystem, clock: clock, random: SeededRandom(seed: seed), options: options)
}

func record(_ id: String, _ embedding: [Float] = [1, 0, 0], content: String? = nil, metadata: [String: JSONValue] = [:]) -> Record {
    Record(id: id, content: content ?? "content of \(id)", embedding: embedding, metadata: metadata)
}

/// Segment file names in a store directory, oldest first.
func segmentNames(_ directory: TemporaryDirectory) throws -> [String] {
    try PosixFileSystem().listDirectory(directory.path).filter { $0.hasPrefix("wal-") }
}

/// Flips one bit of a file in place.
func flipBit(_ path: String, at offset: Int64, bit: UInt8 = 0) throws {
    let file = try PosixFileSystem().open(path, options: .readWrite)
    defer { try? file.close() }
    var byte = try file.read(at: offset, count: 1)
    byte[0] ^= 1 << bit
    try file.write(byte, at: offset)
}

/// Runs `body(index)` on `count` separate threads at once (not a pool limited to the core
/// count), and returns when all are done.
func runOnThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchSemaphore(value: 0)
    for index in 0..<count {
        let thread = Thread {
            body(index)
            done.signal()
        }
        thread.start()
    }
    for _ in 0..<count { done.wait() }
}

/// Flips one bit in the version byte of the last frame of the segment at `path` (bit rot in an
/// acknowledged commit), synced; returns the frame's offset.
@discardableResult
func rotLastFrame(ofSegment path: String, on fileSystem: any FileSystem) throws -> Int {
    let scan = try SegmentScan.scan(fileSystem: fileSystem, path: path, maxPayload: 1 << 20).result.get()
    let last = try #require(scan.frames.last)
    let handle = try fileSystem.open(path, options: .readWrite)
    let offset = Int64(last.offset + Frame.headerSize + 2)
    try handle.write([0x01 ^ (try handle.read(at: offset, count: 1)[0])], at: offset)
    try handle.sync()
    try handle.close()
    return last.offset
}
