import Foundation
import Testing
import TidemarkIO
import TidemarkSimulatedDisk

@testable import Tidemark

/// One writer at a time (`StoreLock`), and read-only opens that write nothing: in the simulator,
/// where a second store instance on the same directory stands for a second process.
@Suite struct StoreLockTests {
    static let directory = "/store"

    func open(_ fileSystem: SimulatedFileSystem, _ options: StoreOptions = StoreOptions(), seed: UInt64 = 1) throws -> Store {
        try Store.open(at: Self.directory, fileSystem: fileSystem, clock: ManualClock(), random: SeededRandom(seed: seed), options: options)
    }

    /// A writer named `owner` holding record "a".
    func writer(_ fileSystem: SimulatedFileSystem, owner: String) throws -> Store {
        var options = StoreOptions()
        options.lockOwner = owner
        let store = try open(fileSystem, options)
        try store.put(record("a"))
        return store
    }

    @Test func aSecondWriterIsRefusedNamingTheHolder() throws {
        let fileSystem = SimulatedFileSystem(seed: 1)
        let first = try writer(fileSystem, owner: "pid 4242")
        var options = StoreOptions()
        options.lockOwner = "pid 4343"
        let refused = try #require(throws: StoreError.self) { try open(fileSystem, options, seed: 2) }
        #expect(refused.code == .locked)
        #expect(refused.message.contains("pid 4242"), "\(refused)")
        #expect(refused.path == "/store/LOCK")
        // Nothing of the refused open reached the store: the first writer carries on.
        try first.put(record("b"))
        try first.close()
        let second = try open(fileSystem, options, seed: 2)
        #expect(try second.allRecords().map(\.id) == ["a", "b"])
        #expect(fileSystem.volatileContents("/store/LOCK").map { String(decoding: $0, as: UTF8.self) } == "pid 4343")
        try second.close()
    }

    @Test func aCrashOrADroppedStoreReleasesTheLock() throws {
        let fileSystem = SimulatedFileSystem(seed: 2)
        var store: Store? = try open(fileSystem)
        try store!.put(record("a"))
        fileSystem.crash(.processKill)  // the process died: the kernel closed its descriptors
        store = nil
        var afterCrash: Store? = try open(fileSystem, seed: 2)
        #expect(try afterCrash!.get("a") != nil)
        #expect(throws: StoreError.self) { try open(fileSystem, seed: 3) }
        afterCrash = nil  // dropped without close, as a process exiting without closing
        _ = try open(fileSystem, seed: 4)
    }

    @Test func readOnlyOpenWritesNothingAndRefusesWrites() throws {
        let fileSystem = SimulatedFileSystem(seed: 3)
        var tiered = StoreOptions()
        tiered.tiers = TierOptions()
        let writer = try open(fileSystem, tiered)
        for id in ["a", "b"] { try writer.put(record(id)) }
        try writer.checkpoint()
        try writer.put(record("c"))
        // A temp file and a torn tail a writable open would remove and cut.
        let temp = try fileSystem.open("/store/MANIFEST.tmp", options: [.read, .write, .create])
        try temp.write([1, 2, 3], at: 0)
        try temp.close()
        let segment = try fileSystem.listDirectory(Self.directory).filter { $0.hasPrefix("wal-") }.last!
        let segmentSize = try fileSystem.status("/store/" + segment).size
        let tail = try fileSystem.open("/store/" + segment, options: .readWrite)
        try tail.write([0xFF, 0xEE, 0xDD], at: segmentSize)
        try tail.close()
        try writer.sync()
        // A reader while the writer holds the lock is refused too.
        var readOnly = tiered
        readOnly.readOnly = true
        #expect(throws: StoreError.self) { try open(fileSystem, readOnly, seed: 2) }
        withExtendedLifetime(writer) {}
        fileSystem.crash(.processKill)

        let before = snapshot(fileSystem)
        let calls = fileSystem.trace.count
        let reader = try open(fileSystem, readOnly, seed: 2)
        #expect(try reader.allRecords().map(\.id) == ["a", "b", "c"])
        #expect(try reader.stats().recordCount == 3)
        #expect(try reader.search(embedding: [1, 0, 0], k: 2).count == 2)
        for write in [{ try reader.put(record("d")) }, { try reader.checkpoint() }, { try reader.sync() }, { _ = try reader.runMaintenance() }] {
            let error = try #require(throws: StoreError.self) { try write() }
            #expect(error.message.contains("read-only"), "\(error)")
        }
        try reader.close()
        let mutating: Set<FileOperation> = [.write, .truncate, .remove, .rename, .createDirectory, .sync, .syncData, .syncDirectory]
        let writes = fileSystem.trace.dropFirst(calls).filter { mutating.contains($0.operation) }
        #expect(writes.isEmpty, "\(writes)")
        #expect(snapshot(fileSystem) == before)
    }

    @Test func offlineVerifyRefusesToReadUnderAWriter() throws {
        let fileSystem = SimulatedFileSystem(seed: 5)
        let writer = try writer(fileSystem, owner: "pid 77")
        let refused = try #require(throws: StoreError.self) { try Store.verify(at: Self.directory, fileSystem: fileSystem) }
        #expect(refused.code == .locked && refused.message.contains("pid 77"), "\(refused)")
        #expect(try writer.verify().isClean)  // the writer checks its own files
        try writer.close()
        #expect(try Store.verify(at: Self.directory, fileSystem: fileSystem).isClean)
    }

    @Test func readOnlyOpenOfAMissingStoreIsNotFoundAndCreatesNothing() throws {
        let fileSystem = SimulatedFileSystem(seed: 4)
        var options = StoreOptions()
        options.readOnly = true
        let error = try #require(throws: StoreError.self) { try open(fileSystem, options) }
        #expect(error.code == .notFound)
        #expect(!fileSystem.exists(Self.directory))
        options.salvage = true
        #expect(throws: StoreError.self) { try open(fileSystem, options) }
    }

    /// Every file under the store with its bytes.
    func snapshot(_ fileSystem: SimulatedFileSystem) -> [String: [UInt8]] {
        var files: [String: [UInt8]] = [:]
        for name in (try? fileSystem.listDirectory(Self.directory)) ?? [] {
            files[name] = fileSystem.volatileContents(FilePaths.join(Self.directory, name))
        }
        return files
    }
}
