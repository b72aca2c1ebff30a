import Foundation
import Testing
import TidemarkIO
@testable import TidemarkSimulatedDisk

/// Helpers shared by the fault tests.
enum Disk {
    /// Creates `path` with `bytes`, synced, and syncs its directory: fully durable.
    static func durableFile(_ fs: SimulatedFileSystem, _ path: String, _ bytes: [UInt8]) throws {
        let handle = try fs.open(path, options: [.read, .write, .create, .truncate])
        try handle.write(bytes, at: 0)
        try handle.sync()
        try handle.close()
        try fs.syncDirectory(FilePaths.parent(of: path))
    }

    /// Writes without syncing.
    static func unsyncedWrite(_ fs: SimulatedFileSystem, _ path: String, _ bytes: [UInt8], at offset: Int64) throws {
        let handle = try fs.open(path, options: .readWrite)
        try handle.write(bytes, at: offset)
        try handle.close()
    }

    static func read(_ fs: SimulatedFileSystem, _ path: String) -> [UInt8]? {
        try? fs.readFile(path)
    }
}

struct SimulatedFileSystemFaultTests {
    // MARK: Power loss and process kill

    @Test func unsyncedDataSurvivesProcessKillButNotPowerLoss() throws {
        let fs = SimulatedFileSystem(seed: 1)
        try Disk.durableFile(fs, "/f", Array("old!".utf8))
        try Disk.unsyncedWrite(fs, "/f", Array("new!".utf8), at: 0)
        let handle = try fs.open("/f", options: .read)
        #expect(fs.pendingWriteCount() == 1)

        let kill = fs.crash(.processKill)
        #expect(kill.handlesInvalidated == 1)
        #expect(Disk.read(fs, "/f") == Array("new!".utf8), "a process kill keeps the page cache")
        #expect(fs.durableContents("/f") == Array("old!".utf8))
        #expect(throws: FileSystemError.self) { try handle.read(at: 0, count: 4) }
        do { _ = try handle.read(at: 0, count: 4) } catch let error as FileSystemError { #expect(error.code == .closed) }

        let power = fs.crash(.powerLoss)
        #expect(Disk.read(fs, "/f") == Array("old!".utf8), "unsynced data is lost at power loss")
        #expect(power.writes.map(\.fate) == [.dropped])
        #expect(fs.pendingWriteCount() == 0)
    }

    @Test func syncedFileWhoseDirectoryWasNeverSyncedVanishes() throws {
        let fs = SimulatedFileSystem(seed: 2)
        try fs.createDirectory("/d")
        try fs.syncDirectory("/")
        let handle = try fs.open("/d/f", options: .createNew)
        try handle.write([1, 2, 3], at: 0)
        try handle.sync()
        let report = fs.crash(.powerLoss)
        #expect(!fs.exists("/d/f"))
        #expect(fs.exists("/d"))
        #expect(report.vanishedFiles == ["/d/f"])
        #expect(report.directoryOperations.map(\.survived) == [false])

        // The control: with the directory synced the file survives.
        let handle2 = try fs.open("/d/f", options: .createNew)
        try handle2.write([1, 2, 3], at: 0)
        try handle2.sync()
        try fs.syncDirectory("/d")
        fs.crash(.powerLoss)
        #expect(Disk.read(fs, "/d/f") == [1, 2, 3])
    }

    @Test func unsyncedNewDirectoryAndItsFilesVanish() throws {
        let fs = SimulatedFileSystem(seed: 3)
        try fs.createDirectory("/d")
        try Disk.durableFile(fs, "/d/f", [9])  // syncs /d but not /
        let report = fs.crash(.powerLoss)
        #expect(!fs.exists("/d"))
        #expect(report.vanishedDirectories == ["/d"])
        #expect(report.vanishedFiles == ["/d/f"])
    }

    @Test func renameIsNeverHalfDone() throws {
        var outcomes: Set<String> = []
        for seed in UInt64(0)..<200 {
            let fs = SimulatedFileSystem(seed: seed, faults: FaultConfiguration(directoryOperationSurvivalProbability: 0.5))
            try Disk.durableFile(fs, "/target", Array("old".utf8))
            try Disk.durableFile(fs, "/a", Array("A".utf8))
            try Disk.durableFile(fs, "/target.tmp", Array("new".utf8))
            // Replace, then a plain move, neither directory-synced.
            try fs.rename("/target.tmp", to: "/target")
            try fs.rename("/a", to: "/b")
            fs.crash(.powerLoss)

            let target = Disk.read(fs, "/target").map { String(decoding: $0, as: UTF8.self) }
            let tempLeft = fs.exists("/target.tmp")
            #expect(target == "old" || target == "new", "seed \(seed): target is \(String(describing: target))")
            // Old name or new name, never neither and never both.
            #expect((target == "new") != tempLeft, "seed \(seed): target \(String(describing: target)), temp left \(tempLeft)")
            #expect(fs.exists("/a") != fs.exists("/b"), "seed \(seed): a and b")
            outcomes.insert("\(target ?? "-") \(fs.exists("/b"))")
        }
        #expect(outcomes.count == 4, "both fates of both renames occur: \(outcomes)")
    }

    @Test func aFileMovedTwiceHasExactlyOneNameAfterAnyCrash() throws {
        var names: Set<String> = []
        for seed in UInt64(0)..<100 {
            let fs = SimulatedFileSystem(seed: seed, faults: FaultConfiguration(directoryOperationSurvivalProbability: 0.5))
            try Disk.durableFile(fs, "/x", [1])
            try fs.rename("/x", to: "/y")
            try fs.rename("/y", to: "/z")
            fs.crash(.powerLoss)
            let present = ["/x", "/y", "/z"].filter { fs.exists($0) }
            #expect(present.count == 1, "seed \(seed): \(present)")
            names.formUnion(present)
        }
        #expect(names == ["/x", "/y", "/z"])
    }

    @Test func syncingADirectoryCommitsEarlierMovesOfTheSameFile() throws {
        let fs = SimulatedFileSystem(seed: 19)
        try fs.createDirectory("/d0")
        try fs.createDirectory("/d1")
        try fs.syncDirectory("/")
        try Disk.durableFile(fs, "/d0/x", [1])
        try fs.rename("/d0/x", to: "/d0/y")
        try fs.rename("/d0/y", to: "/d1/z")
        try fs.syncDirectory("/d1")
        #expect(fs.pendingDirectoryOperationCount() == 0)
        fs.crash(.powerLoss)
        #expect(try fs.listDirectory("/d0").isEmpty)
        #expect(Disk.read(fs, "/d1/z") == [1])
    }

    @Test func syncingDirectoriesInAnyOrderKeepsTheLastRenameOverAName() throws {
        // Found by the fully-synced property: syncing /a committed the rename over /b, then
        // syncing / applied the older create of /b on top of it.
        let fs = SimulatedFileSystem(seed: 20)
        try fs.createDirectory("/a")
        let old = try fs.open("/b", options: .createNew)
        try old.write([1], at: 0)
        try old.sync()
        try Disk.durableFile(fs, "/a/x", [2])
        try fs.rename("/a/x", to: "/b")
        try fs.syncDirectory("/a")
        try fs.syncDirectory("/")
        fs.crash(.powerLoss)
        #expect(Disk.read(fs, "/b") == [2])
        #expect(try fs.listDirectory("/a").isEmpty)
    }

    @Test func renameAcrossDirectoriesIsCommittedBySyncingEither() throws {
        let fs = SimulatedFileSystem(seed: 4)
        try fs.createDirectory("/x")
        try fs.createDirectory("/y")
        try fs.syncDirectory("/")
        try Disk.durableFile(fs, "/x/f", [7])
        try fs.rename("/x/f", to: "/y/g")
        try fs.syncDirectory("/y")
        fs.crash(.powerLoss)
        #expect(Disk.read(fs, "/y/g") == [7])
        #expect(!fs.exists("/x/f"), "the source half went with the destination half")
    }

    @Test func removeWithOpenHandleKeepsTheInodeAndALostRemoveResurrectsTheFile() throws {
        let fs = SimulatedFileSystem(seed: 5)
        try Disk.durableFile(fs, "/f", [1, 2])
        let handle = try fs.open("/f", options: .readWrite)
        try fs.remove("/f")
        #expect(!fs.exists("/f"))
        try handle.write([3], at: 2)
        #expect(try handle.read(at: 0, count: 10) == [1, 2, 3])
        let report = fs.crash(.powerLoss)
        #expect(report.reappeared == ["/f"])
        #expect(Disk.read(fs, "/f") == [1, 2])
    }

    @Test func keepAllKeepsEveryPendingChange() throws {
        let fs = SimulatedFileSystem(seed: 6, faults: FaultConfiguration(keepAllProbability: 1))
        try fs.createDirectory("/d")
        let handle = try fs.open("/d/f", options: .createNew)
        try handle.write([5, 6], at: 0)
        try fs.rename("/d/f", to: "/d/g")
        let report = fs.crash(.powerLoss)
        #expect(report.keptEverything)
        #expect(Disk.read(fs, "/d/g") == [5, 6])
        #expect(fs.decisions.isEmpty, "keeping everything is the benign outcome")
    }

    // MARK: fsync error

    @Test func failedSyncLeavesDataReadableButNeverDurableAndTheNextSyncSucceeds() throws {
        let fs = SimulatedFileSystem(seed: 7)
        try Disk.durableFile(fs, "/f", Array("old".utf8))
        fs.faults = FaultConfiguration(fsyncErrorProbability: 1)
        let handle = try fs.open("/f", options: .readWrite)
        try handle.write(Array("new".utf8), at: 0)
        do {
            try handle.sync()
            Issue.record("sync should fail")
        } catch let error as FileSystemError {
            #expect(error.code == .io)
        }
        #expect(try handle.read(at: 0, count: 3) == Array("new".utf8), "still readable after the failed sync")
        #expect(fs.pendingWriteCount() == 0, "marked clean")
        try handle.sync()  // the next sync succeeds, and writes nothing back
        #expect(fs.durableContents("/f") == Array("old".utf8))
        #expect(fs.decisions.map(\.kind) == [.fsyncError])
        let report = fs.crash(.powerLoss)
        #expect(Disk.read(fs, "/f") == Array("old".utf8))
        #expect(report.writes.map(\.fate) == [.lostToFsyncError])
    }

    @Test func failedDirectorySyncLeavesEntriesPending() throws {
        let fs = SimulatedFileSystem(seed: 8, faults: FaultConfiguration(fsyncErrorProbability: 1))
        try fs.createDirectory("/d")
        #expect(throws: FileSystemError.self) { try fs.syncDirectory("/") }
        #expect(fs.pendingDirectoryOperationCount() == 1)
        fs.crash(.powerLoss)
        #expect(!fs.exists("/d"))
    }

    // MARK: Torn writes, garbage, unsafe append

    /// A durable file of `sectors` sectors of 0xAA, then an unsynced write of 0xBB over
    /// `writeSectors`, then a power loss. Returns the report and the recovered bytes.
    static func tornScenario(seed: UInt64, faults: FaultConfiguration, sectors: Int = 16, writeSectors: Range<Int> = 2..<10)
        throws -> (CrashReport, [UInt8])
    {
        let fs = SimulatedFileSystem(seed: seed, faults: faults)
        let sector = faults.effectiveSectorSize
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: sectors * sector))
        try Disk.unsyncedWrite(fs, "/f", [UInt8](repeating: 0xBB, count: writeSectors.count * sector),
                               at: Int64(writeSectors.lowerBound * sector))
        let report = fs.crash(.powerLoss)
        return (report, try fs.readFile("/f"))
    }

    @Test(arguments: [512, 4096])
    func tornWritesChangeOnlyWholeSectors(sectorSize: Int) throws {
        let faults = FaultConfiguration(tornWriteProbability: 1, sectorSize: sectorSize)
        for seed in UInt64(0)..<30 {
            let (report, bytes) = try Self.tornScenario(seed: seed, faults: faults)
            let write = try #require(report.writes.first)
            #expect(write.fate == .torn)
            #expect(!write.keptSectors.isEmpty && write.keptSectors.count < 8, "torn means some but not all")
            for number in 0..<16 {
                let sector = bytes[(number * sectorSize)..<((number + 1) * sectorSize)]
                let expected: UInt8 = write.keptSectors.contains(Int64(number)) ? 0xBB : 0xAA
                #expect(sector.allSatisfy { $0 == expected }, "seed \(seed) sector \(number)")
            }
        }
    }

    @Test func garbageAppearsOnlyInsideTornSectors() throws {
        let faults = FaultConfiguration(tornWriteProbability: 1, garbageProbability: 1)
        for seed in UInt64(0)..<20 {
            let (report, bytes) = try Self.tornScenario(seed: seed, faults: faults)
            let write = try #require(report.writes.first)
            #expect(Set(write.garbageSectors) == Set((2..<10).map(Int64.init)).subtracting(write.keptSectors))
            for number in 0..<16 {
                let sector = bytes[(number * 512)..<((number + 1) * 512)]
                if write.keptSectors.contains(Int64(number)) {
                    #expect(sector.allSatisfy { $0 == 0xBB })
                } else if write.garbageSectors.contains(Int64(number)) {
                    #expect(!sector.allSatisfy { $0 == 0xAA } && !sector.allSatisfy { $0 == 0xBB }, "random bytes")
                } else {
                    #expect(sector.allSatisfy { $0 == 0xAA }, "seed \(seed): sector \(number) outside the write is untouched")
                }
            }
        }
    }

    @Test func singleSectorWritesAreNeverTorn() throws {
        let faults = FaultConfiguration(tornWriteProbability: 1)
        let (report, bytes) = try Self.tornScenario(seed: 1, faults: faults, writeSectors: 3..<4)
        #expect(report.writes.map(\.fate) == [.dropped])
        #expect(bytes.allSatisfy { $0 == 0xAA })
    }

    /// A durable file of two sectors and 100 bytes of 0xAA, then 50 unsynced bytes right after
    /// them (inside the third sector, which the synced bytes share), then a power loss.
    static func smallWriteAfterSyncedBytes(_ faults: FaultConfiguration, suppress: Set<Int> = [])
        throws -> (CrashReport, [UInt8], [FaultDecision])
    {
        let sector = faults.effectiveSectorSize
        let fs = SimulatedFileSystem(seed: 3, faults: faults)
        fs.suppressedDecisions = suppress
        try Disk.durableFile(fs, "/log", [UInt8](repeating: 0xAA, count: 2 * sector + 100))
        try Disk.unsyncedWrite(fs, "/log", [UInt8](repeating: 0xBB, count: 50), at: Int64(2 * sector + 100))
        let report = fs.crash(.powerLoss)
        return (report, try fs.readFile("/log"), fs.decisions)
    }

    @Test(arguments: [512, 4096])
    func aLostSmallWriteGarblesItsWholeSectorSyncedBytesIncluded(sectorSize: Int) throws {
        let faults = FaultConfiguration(sectorSize: sectorSize, sectorGarbleProbability: 1)
        let (report, bytes, decisions) = try Self.smallWriteAfterSyncedBytes(faults)
        #expect(report.writes.map(\.fate) == [.dropped])
        #expect(report.writes.first?.garbageSectors == [2])
        #expect(decisions.map(\.kind) == [.writeLost, .sectorGarble])
        #expect(bytes.count == 2 * sectorSize + 100, "a lost append does not grow the file")
        #expect(bytes[..<(2 * sectorSize)].allSatisfy { $0 == 0xAA }, "other sectors are untouched")
        #expect(!bytes[(2 * sectorSize)...].allSatisfy { $0 == 0xAA }, "the synced bytes sharing the sector are garbled")

        let (_, suppressed, _) = try Self.smallWriteAfterSyncedBytes(faults, suppress: [1])
        #expect(suppressed == [UInt8](repeating: 0xAA, count: 2 * sectorSize + 100), "suppressed: the benign outcome")
    }

    @Test func withoutSectorGarbleALostSmallWriteLeavesSyncedBytesAlone() throws {
        let faults = FaultConfiguration(tornWriteProbability: 1, garbageProbability: 1)
        let (report, bytes, _) = try Self.smallWriteAfterSyncedBytes(faults)
        #expect(report.writes.map(\.fate) == [.dropped] && report.writes.first?.garbageSectors == [])
        #expect(bytes == [UInt8](repeating: 0xAA, count: 1124))
    }

    /// A durable file of 5 pages of 0xAA; a kill point fires on a write of `count` bytes of 0xBB
    /// at 1000; then a process kill. Returns what reads see and the decisions.
    static func killInsideWrite(seed: UInt64, count: Int) throws -> ([UInt8], [FaultDecision]) {
        let fs = SimulatedFileSystem(seed: seed, faults: FaultConfiguration(killMidWriteProbability: 1))
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: 5 * 4096))
        let handle = try fs.open("/f", options: .readWrite)
        fs.killPoint = KillPoint(operation: .write)
        #expect(throws: FileSystemError.self) { try handle.write([UInt8](repeating: 0xBB, count: count), at: 1000) }
        fs.crash(.processKill)
        return (try fs.readFile("/f"), fs.decisions)
    }

    @Test func aKillInsideALargeWriteLeavesAPrefixOfWholePages() throws {
        var cuts: Set<Int> = []
        for seed in UInt64(0)..<20 {
            let (bytes, decisions) = try Self.killInsideWrite(seed: seed, count: 3 * 4096)
            #expect(decisions.map(\.kind) == [.killMidWrite])
            let copied = bytes.count { $0 == 0xBB }
            #expect(copied > 0 && copied < 3 * 4096, "some, not all")
            #expect((1000 + copied) % 4096 == 0, "the cut falls on a page boundary")
            #expect(bytes[1000..<(1000 + copied)].allSatisfy { $0 == 0xBB }, "a prefix")
            #expect(bytes.count == 5 * 4096)
            cuts.insert(copied)
        }
        #expect(cuts.count == 3, "every page boundary inside the write: \(cuts.sorted())")
    }

    @Test func aKilledWriteWithinOnePageIsNotPerformed() throws {
        let (bytes, decisions) = try Self.killInsideWrite(seed: 1, count: 3000)
        #expect(decisions.isEmpty)
        #expect(bytes == [UInt8](repeating: 0xAA, count: 5 * 4096))
    }

    @Test func anEvictedPageAfterAFailedFsyncReadsStale() throws {
        let fs = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: 8192))
        fs.faults = FaultConfiguration(fsyncErrorProbability: 1)
        let handle = try fs.open("/f", options: .readWrite)
        try handle.write([UInt8](repeating: 0xBB, count: 100), at: 0)
        #expect(throws: FileSystemError.self) { try handle.sync() }
        try handle.write([UInt8](repeating: 0xCC, count: 100), at: 4096)  // dirty: stays
        #expect(try handle.read(at: 0, count: 1) == [0xBB], "marked clean, still cached")
        fs.faults = FaultConfiguration(pageEvictionProbability: 1)
        #expect(try handle.read(at: 0, count: 1) == [0xAA], "evicted: the disk never got it")
        #expect(try handle.read(at: 4096, count: 1) == [0xCC], "dirty pages are not evicted")
        #expect(fs.decisions.map(\.kind) == [.fsyncError, .pageEviction], "the second read changed nothing")
    }

    @Test func aWritebackErrorIsReportedOnceToEachDescriptorOpenWhenItStruck() throws {
        let fs = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: 4096))
        let writer = try fs.open("/f", options: .readWrite), other = try fs.open("/f", options: .readWrite)
        fs.faults = FaultConfiguration(writebackErrorProbability: 1)
        try writer.write([UInt8](repeating: 0xBB, count: 100), at: 0)
        fs.faults = .none
        let late = try fs.open("/f", options: .readWrite)
        try late.sync()  // opened after the error: never told
        #expect(throws: FileSystemError.self) { try writer.sync() }
        try writer.sync()  // reported once per descriptor
        try other.write([UInt8](repeating: 0xCC, count: 10), at: 200)
        #expect(throws: FileSystemError.self) { try other.sync() }
        try other.sync()
        #expect(try writer.read(at: 0, count: 1) == [0xBB], "marked clean, still cached")
        #expect(fs.decisions.map(\.kind) == [.writebackError])
        fs.crash(.powerLoss)
        let bytes = try fs.readFile("/f")
        #expect(bytes[0] == 0xAA, "never durable")
        #expect(bytes[200] == 0xCC, "the failing sync still wrote back what was dirty")
    }

    /// errseq for a sync that fails by itself: the failing descriptor reports now, every other
    /// descriptor open then at its next sync (writing back what is dirty by then), one opened
    /// later never; the failing descriptor's next sync draws afresh. The per-file rule instead
    /// lets the next sync of the file, through any descriptor, succeed without a draw.
    @Test func aFailedFsyncIsReportedOnceToEachDescriptorUnderErrseq() throws {
        let fs = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: 4096))
        let failing = try fs.open("/f", options: .readWrite), other = try fs.open("/f", options: .readWrite)
        try failing.write([UInt8](repeating: 0xBB, count: 100), at: 0)
        fs.faults = FaultConfiguration(fsyncErrorProbability: 1, fsyncErrorReporting: .errseq)
        #expect(throws: FileSystemError.self) { try failing.sync() }
        #expect(throws: FileSystemError.self) { try failing.sync() }  // draws again: may fail again
        fs.faults = FaultConfiguration(fsyncErrorReporting: .errseq)
        let late = try fs.open("/f", options: .readWrite)
        try late.sync()  // opened after the error: never told
        try failing.sync()  // reported already
        try other.write([UInt8](repeating: 0xCC, count: 10), at: 200)
        let error = #expect(throws: FileSystemError.self) { try other.sync() }
        #expect(error?.code == .io)
        try other.sync()
        #expect(fs.decisions.map(\.kind) == [.fsyncError, .fsyncError])
        #expect(fs.configuredFaults.map(\.kind) == [.writebackErrorReported])
        fs.crash(.powerLoss)
        let bytes = try fs.readFile("/f")
        #expect(bytes[0] == 0xAA, "marked clean: never durable")
        #expect(bytes[200] == 0xCC, "the other descriptor's sync still wrote back what was dirty")

        // The per-file rule: the other descriptor's sync succeeds; so does the failing one's next.
        let old = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(old, "/f", [UInt8](repeating: 0xAA, count: 4096))
        let first = try old.open("/f", options: .readWrite), second = try old.open("/f", options: .readWrite)
        try first.write([UInt8](repeating: 0xBB, count: 100), at: 0)
        old.faults = FaultConfiguration(fsyncErrorProbability: 1)
        #expect(throws: FileSystemError.self) { try first.sync() }
        try second.sync()
        #expect(throws: FileSystemError.self) { try first.sync() }
    }

    /// Delayed allocation failing in background writeback: the pages of the growth are marked
    /// clean at the write, and ENOSPC is reported once by each descriptor open then.
    @Test func backgroundWritebackMayFindNoSpaceAndReportItAtTheNextSync() throws {
        let fs = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: 100))
        let writer = try fs.open("/f", options: .readWrite), other = try fs.open("/f", options: .readWrite)
        fs.faults = FaultConfiguration(writebackNoSpaceProbability: 1)
        try writer.write([UInt8](repeating: 0xBB, count: 10), at: 0)  // an overwrite allocates nothing
        #expect(fs.decisions.isEmpty)
        try writer.write([UInt8](repeating: 0xCC, count: 50), at: 100)
        fs.faults = .none
        let error = #expect(throws: FileSystemError.self) { try writer.sync() }
        #expect(error?.code == .noSpace)
        try writer.sync()
        #expect(try other.read(at: 100, count: 1) == [0xCC], "marked clean, still cached")
        let otherError = #expect(throws: FileSystemError.self) { try other.sync() }
        #expect(otherError?.code == .noSpace)
        #expect(fs.decisions.map(\.kind) == [.writebackNoSpace])
        fs.crash(.powerLoss)
        #expect(try fs.readFile("/f") == [UInt8](repeating: 0xAA, count: 100), "nothing of it reached the disk")
    }

    /// After an injected I/O error a file system may shut down (every call but close fails with
    /// EIO) or remount read-only (changes fail with EROFS, reads work), until the next crash.
    @Test func anIOErrorMayShutTheFileSystemDownOrRemountItReadOnly() throws {
        let fs = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(fs, "/f", [1, 2, 3])
        let handle = try fs.open("/f", options: .readWrite)
        fs.faults = FaultConfiguration(fsyncErrorProbability: 1, readOnlyRemountProbability: 1)
        try handle.write([9], at: 0)
        #expect(throws: FileSystemError.self) { try handle.sync() }
        fs.faults = .none
        #expect(fs.isShutDownOrReadOnly)
        for change in [{ try handle.write([8], at: 1) }, { try handle.sync() }, { try handle.truncate(to: 0) },
                       { try fs.remove("/f") }, { try fs.rename("/f", to: "/g") }, { try fs.createDirectory("/d") },
                       { try fs.syncDirectory("/") }, { _ = try fs.open("/f", options: .readWrite) }] {
            let error = #expect(throws: FileSystemError.self) { try change() }
            #expect(error?.code == .permissionDenied && error?.errno == EROFS)
        }
        #expect(try handle.read(at: 0, count: 3) == [9, 2, 3], "reads still work")
        #expect(try fs.listDirectory("/") == ["f"])
        try handle.close()
        fs.crash(.processKill)
        #expect(!fs.isShutDownOrReadOnly, "a crash ends it")
        try Disk.unsyncedWrite(fs, "/f", [7], at: 0)

        fs.faults = FaultConfiguration(writeErrorProbability: 1, shutdownProbability: 1)
        let doomed = try fs.open("/f", options: .readWrite)
        #expect(throws: FileSystemError.self) { try doomed.write([6], at: 0) }
        fs.faults = .none
        for call in [{ _ = try doomed.read(at: 0, count: 1) }, { _ = try fs.listDirectory("/") }, { _ = try fs.status("/f") },
                     { _ = try fs.open("/f", options: .read) }, { try doomed.sync() }] {
            let error = #expect(throws: FileSystemError.self) { try call() }
            #expect(error?.code == .io)
        }
        try doomed.close()
        #expect(fs.decisions.map(\.kind) == [.fsyncError, .readOnlyRemount, .writeError, .shutdown])
        fs.crash(.powerLoss)
        #expect(try fs.readFile("/f") == [1, 2, 3])
    }

    /// With `holdSpaceUntilUnlinkDurable`, an unlinked file's bytes count against the capacity
    /// until the directory sync that makes the unlink durable; without it they are free at once.
    @Test func spaceIsFreedWhenTheUnlinkIsDurable() throws {
        func deleteThenRewrite(_ faults: FaultConfiguration) throws -> SimulatedFileSystem {
            let fs = SimulatedFileSystem(seed: 1, faults: faults)
            try Disk.durableFile(fs, "/old", [UInt8](repeating: 1, count: 600))
            try fs.remove("/old")
            let new = try fs.open("/new", options: [.read, .write, .create])
            defer { try? new.close() }
            do {
                try new.write([UInt8](repeating: 2, count: 600), at: 0)
            } catch let error as FileSystemError where error.code == .noSpace {
                try fs.syncDirectory("/")  // the unlink is durable: its blocks are free
                try new.write([UInt8](repeating: 2, count: 600), at: 0)
            }
            return fs
        }
        let immediate = try deleteThenRewrite(FaultConfiguration(capacityBytes: 1000))
        #expect(immediate.configuredFaults.isEmpty)
        let held = try deleteThenRewrite(FaultConfiguration(capacityBytes: 1000, holdSpaceUntilUnlinkDurable: true))
        #expect(held.configuredFaults.map(\.kind) == [.diskFullHeldByUnlink])
        #expect(held.bytesUsed == 600)

        // An open handle keeps an unlinked file's bytes until it closes, durable unlink or not.
        let fs = SimulatedFileSystem(seed: 1, faults: FaultConfiguration(capacityBytes: 1000, holdSpaceUntilUnlinkDurable: true))
        try Disk.durableFile(fs, "/a", [UInt8](repeating: 1, count: 400))
        let reader = try fs.open("/a", options: .read)
        try fs.remove("/a")
        try fs.syncDirectory("/")
        #expect(fs.bytesUsed == 400)
        try reader.close()
        #expect(fs.bytesUsed == 0)
        // A renamed-over file is held until the rename is durable; a power loss recounts.
        try Disk.durableFile(fs, "/b", [UInt8](repeating: 1, count: 300))
        try Disk.durableFile(fs, "/c", [UInt8](repeating: 2, count: 200))
        try fs.rename("/c", to: "/b")
        #expect(fs.bytesUsed == 500)
        fs.crash(.powerLoss)
        #expect(fs.bytesUsed == 500, "the rename was lost: both files are back")
        try fs.rename("/c", to: "/b")
        try fs.syncDirectory("/")
        #expect(fs.bytesUsed == 200)
    }

    @Test func aSyncOfAGrownFileMayFailWithNoSpaceAndDropItsPages() throws {
        let fs = SimulatedFileSystem(seed: 1, faults: .none)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0xAA, count: 100))
        fs.faults = FaultConfiguration(syncNoSpaceProbability: 1)
        let handle = try fs.open("/f", options: .readWrite)
        try handle.write([UInt8](repeating: 0xBB, count: 10), at: 0)
        try handle.sync()  // an overwrite allocates nothing
        try handle.write([UInt8](repeating: 0xCC, count: 50), at: 100)
        let error = #expect(throws: FileSystemError.self) { try handle.sync() }
        #expect(error?.code == .noSpace)
        #expect(try handle.read(at: 100, count: 1) == [0xCC], "marked clean, still cached")
        #expect(fs.decisions.map(\.kind) == [.syncNoSpace])
        fs.crash(.powerLoss)
        #expect(try fs.readFile("/f") == [UInt8](repeating: 0xBB, count: 10) + [UInt8](repeating: 0xAA, count: 90))
    }

    @Test func unsafeAppendSurfacesZerosOrGarbage() throws {
        func appendThenCrash(_ faults: FaultConfiguration) throws -> (CrashReport, [UInt8]) {
            let fs = SimulatedFileSystem(seed: 11, faults: faults)
            try Disk.durableFile(fs, "/log", [UInt8](repeating: 7, count: 100))
            try Disk.unsyncedWrite(fs, "/log", [UInt8](repeating: 9, count: 1000), at: 100)
            let report = fs.crash(.powerLoss)
            return (report, try fs.readFile("/log"))
        }
        let (safeReport, safe) = try appendThenCrash(.none)
        #expect(safe == [UInt8](repeating: 7, count: 100))
        #expect(safeReport.writes.first?.unsafeAppendFill == nil)

        let (zeroReport, zeros) = try appendThenCrash(FaultConfiguration(unsafeAppendProbability: 1))
        #expect(zeros.count == 1100)
        #expect(zeros[..<100].allSatisfy { $0 == 7 } && zeros[100...].allSatisfy { $0 == 0 })
        #expect(zeroReport.writes.first?.unsafeAppendFill == .zeros)

        let (garbageReport, garbage) = try appendThenCrash(FaultConfiguration(garbageProbability: 1, unsafeAppendProbability: 1))
        #expect(garbage.count == 1100)
        #expect(garbage[..<100].allSatisfy { $0 == 7 })
        #expect(!garbage[100...].allSatisfy { $0 == 0 } && !garbage[100...].allSatisfy { $0 == 9 })
        #expect(garbageReport.writes.first?.unsafeAppendFill == .garbage)
    }

    @Test func tornAppendGrowsOnlyOverItsLandedPrefix() throws {
        for seed in UInt64(0)..<30 {
            let fs = SimulatedFileSystem(seed: seed, faults: FaultConfiguration(tornWriteProbability: 1))
            try Disk.durableFile(fs, "/log", [UInt8](repeating: 7, count: 512))
            try Disk.unsyncedWrite(fs, "/log", [UInt8](repeating: 9, count: 2048), at: 512)
            let report = fs.crash(.powerLoss)
            let kept = Set(report.writes[0].keptSectors)
            var expectedSize = 512
            for number in 1...4 { if kept.contains(Int64(number)) { expectedSize += 512 } else { break } }
            let bytes = try fs.readFile("/log")
            #expect(bytes.count == expectedSize, "seed \(seed): kept \(kept.sorted())")
            #expect(bytes[512...].allSatisfy { $0 == 9 })
        }
    }

    // MARK: Early writeback

    @Test func earlyWritebackMakesUnsyncedDataDurable() throws {
        let fs = SimulatedFileSystem(seed: 12)
        try Disk.durableFile(fs, "/f", [0, 0])
        fs.faults = FaultConfiguration(earlyWritebackProbability: 1)
        try Disk.unsyncedWrite(fs, "/f", [4, 5], at: 0)
        #expect(fs.durableContents("/f") == [4, 5])
        #expect(fs.pendingWriteCount() == 0)
        fs.crash(.powerLoss)
        #expect(Disk.read(fs, "/f") == [4, 5])

        let control = SimulatedFileSystem(seed: 12)
        try Disk.durableFile(control, "/f", [0, 0])
        try Disk.unsyncedWrite(control, "/f", [4, 5], at: 0)
        control.crash(.powerLoss)
        #expect(Disk.read(control, "/f") == [0, 0])
    }

    // MARK: Errors while running

    @Test func noSpaceWritesLeaveNoPhantomBytes() throws {
        let fs = SimulatedFileSystem(seed: 13, faults: FaultConfiguration(capacityBytes: 1000))
        let handle = try fs.open("/f", options: .createNew)
        try handle.write([UInt8](repeating: 1, count: 600), at: 0)
        do {
            try handle.write([UInt8](repeating: 2, count: 600), at: 600)
            Issue.record("write past capacity should fail")
        } catch let error as FileSystemError {
            #expect(error.code == .noSpace)
        }
        #expect(try handle.size() == 1000, "the prefix that fits landed")
        #expect(try handle.read(at: 600, count: 400).allSatisfy { $0 == 2 })
        #expect(throws: FileSystemError.self) { try handle.write([3], at: 5000) }
        #expect(try handle.size() == 1000, "a failed write past the end does not grow the file")
        try handle.write([UInt8](repeating: 4, count: 100), at: 0)  // overwrite needs no room
        #expect(fs.bytesUsed == 1000)
        try handle.truncate(to: 500)
        try handle.write([5], at: 500)
        #expect(fs.bytesUsed == 501)
    }

    @Test func writeErrorWritesAtMostAPrefix() throws {
        var sawPrefix = false
        for seed in UInt64(0)..<20 {
            let fs = SimulatedFileSystem(seed: seed, faults: FaultConfiguration(writeErrorProbability: 1))
            let handle = try fs.open("/f", options: .createNew)
            let data = (0..<100).map { UInt8($0) }
            do {
                try handle.write(data, at: 0)
                Issue.record("write should fail")
            } catch let error as FileSystemError {
                #expect(error.code == .io)
            }
            let landed = try handle.read(at: 0, count: 200)
            #expect(landed.count < 100 && landed == Array(data[..<landed.count]))
            sawPrefix = sawPrefix || !landed.isEmpty
        }
        #expect(sawPrefix)
    }

    @Test func readErrorFailsReads() throws {
        let fs = SimulatedFileSystem(seed: 14)
        try Disk.durableFile(fs, "/f", [1, 2, 3])
        fs.faults = FaultConfiguration(readErrorProbability: 1)
        let handle = try fs.open("/f", options: .read)
        #expect(throws: FileSystemError.self) { try handle.read(at: 0, count: 3) }
        fs.faults = .none
        #expect(try handle.read(at: 0, count: 3) == [1, 2, 3])
    }

    @Test func latentSectorErrorsFailReadsOfTheirRangeOnly() throws {
        let fs = SimulatedFileSystem(seed: 15, faults: FaultConfiguration(latentSectorErrors: [
            .init(pathContains: "data", offset: 512, length: 512),
        ]))
        try Disk.durableFile(fs, "/data.bin", [UInt8](repeating: 1, count: 2048))
        try Disk.durableFile(fs, "/other.bin", [UInt8](repeating: 1, count: 2048))
        let data = try fs.open("/data.bin", options: .read)
        #expect(try data.read(at: 0, count: 512).count == 512)
        #expect(try data.read(at: 1024, count: 1024).count == 1024)
        for (offset, count) in [(500, 100), (512, 1), (1023, 1), (0, 2048)] {
            do {
                _ = try data.read(at: Int64(offset), count: count)
                Issue.record("read \(offset)+\(count) should fail")
            } catch let error as FileSystemError {
                #expect(error.code == .io)
            }
        }
        let other = try fs.open("/other.bin", options: .read)
        #expect(try other.read(at: 0, count: 2048).count == 2048)
    }

    @Test func hostileArgumentsFailCleanly() throws {
        let fs = SimulatedFileSystem(seed: 18, faults: FaultConfiguration(latentSectorErrors: [
            .init(pathContains: "f", offset: Int64.max - 1, length: Int64.max),
        ]))
        let handle = try fs.open("f", options: .createNew)
        try handle.write([1, 2, 3], at: 0)
        #expect(try handle.read(at: 1, count: Int.max) == [2, 3])
        #expect(try handle.read(at: Int64.max, count: Int.max) == [])
        for offset in [Int64.max, Int64.max - 2, SimulatedFileSystem.maximumFileSize] {
            do {
                try handle.write([9, 9, 9], at: offset)
                Issue.record("write at \(offset) should fail")
            } catch let error as FileSystemError {
                #expect(error.code == .noSpace)
            }
        }
        #expect(throws: FileSystemError.self) { try handle.truncate(to: Int64.max) }
        #expect(try handle.size() == 3)
        #expect(throws: FileSystemError.self) { try fs.open("a\0b", options: .createNew) }
        #expect(throws: FileSystemError.self) { try fs.status("") }
        #expect(try fs.status("//./f").size == 3, "paths are normalised")
    }

    // MARK: Detect-only corruption

    @Test func bitRotFlipsExactlyTheRecordedBits() throws {
        let fs = SimulatedFileSystem(seed: 16)
        var originals: [String: [UInt8]] = [:]
        for name in ["a", "b", "c", "d"] {
            let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try Disk.durableFile(fs, "/" + name, bytes)
            originals["/" + name] = bytes
        }
        fs.faults = FaultConfiguration(bitRotPerCrashProbability: 1, bitRotPerFileProbability: 1)
        let report = fs.crash(.powerLoss)
        #expect(report.bitFlips.count == 4, "one flip per file")
        for (path, original) in originals {
            var expected = original
            for flip in report.bitFlips where flip.path == path { expected[Int(flip.offset)] ^= UInt8(1 << flip.bit) }
            #expect(try fs.readFile(path) == expected, "\(path)")
        }
        #expect(fs.decisions.filter { $0.kind == .bitRot }.count == report.bitFlips.count)
    }

    @Test func misdirectedWriteLandsElsewhere() throws {
        let fs = SimulatedFileSystem(seed: 17)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0, count: 8192))
        fs.faults = FaultConfiguration(misdirectedWriteProbability: 1)
        let handle = try fs.open("/f", options: .readWrite)
        try handle.write([UInt8](repeating: 0xCC, count: 512), at: 1024)
        #expect(try handle.read(at: 1024, count: 512).allSatisfy { $0 == 0xCC }, "the page cache has it right")
        try handle.sync()
        let durable = try #require(fs.durableContents("/f"))
        #expect(durable[1024..<1536].allSatisfy { $0 == 0 }, "not where it was meant to go")
        let landedAt = try #require(durable.firstIndex(of: 0xCC))
        #expect(landedAt % 512 == 0 && landedAt != 1024)
        #expect(durable[landedAt..<(landedAt + 512)].allSatisfy { $0 == 0xCC })
        #expect(durable.count == 8192)
        #expect(fs.decisions.map(\.kind) == [.misdirectedWrite])
        fs.crash(.powerLoss)
        #expect(try fs.readFile("/f") == durable)
    }

    // MARK: Reordering

    /// Ten one-sector writes to distinct sectors, half survive on average; returns which did.
    static func survivors(seed: UInt64, reorder: FaultConfiguration.ReorderMode) throws -> [Bool] {
        let fs = SimulatedFileSystem(seed: seed, faults: FaultConfiguration(writeSurvivalProbability: 0.5, reorder: reorder))
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 0, count: 5120))
        let handle = try fs.open("/f", options: .readWrite)
        for index in 0..<10 { try handle.write([UInt8](repeating: 1, count: 512), at: Int64(index * 512)) }
        let report = fs.crash(.powerLoss)
        let bytes = try fs.readFile("/f")
        let survived = (0..<10).map { bytes[$0 * 512] == 1 }
        #expect(survived == report.writes.map { $0.fate == .survived })
        return survived
    }

    @Test func orderedPrefixKeepsOnlyPrefixesWhileSubsetReorders() throws {
        var prefixLengths: Set<Int> = []
        var sawNonPrefix = false
        for seed in UInt64(0)..<60 {
            let prefix = try Self.survivors(seed: seed, reorder: .orderedPrefix)
            let kept = prefix.prefix { $0 }.count
            #expect(prefix.dropFirst(kept).allSatisfy { !$0 }, "seed \(seed): \(prefix)")
            prefixLengths.insert(kept)
            let subset = try Self.survivors(seed: seed, reorder: .subset)
            let subsetKept = subset.prefix { $0 }.count
            if subset.dropFirst(subsetKept).contains(true) { sawNonPrefix = true }
        }
        #expect(prefixLengths.count >= 3, "prefixes of several lengths: \(prefixLengths)")
        #expect(sawNonPrefix, "subset mode reorders")
    }
}
