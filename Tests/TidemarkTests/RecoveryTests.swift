import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// Real-disk damage: torn tails, flipped bits, damaged checkpoints.
struct RecoveryTests {
    /// Offsets of the frames in a segment file.
    func frameOffsets(_ path: String) throws -> [Int] {
        let scan = try SegmentScan.scan(fileSystem: PosixFileSystem(), path: path, maxPayload: 1 << 24).result.get()
        return scan.frames.map(\.offset)
    }

    @Test func tornTailIsCutAndReported() throws {
        let directory = TemporaryDirectory()
        var store: Store? = try openStore(directory, options: StoreOptions(syncMode: .async))
        for id in ["a", "b", "c"] { try store!.put(record(id)) }
        store = nil  // its process died before a sync: no close marker, no durable end recorded
        let segment = directory.file(try segmentNames(directory)[0])
        let size = try PosixFileSystem().status(segment).size
        let lastFrame = try frameOffsets(segment).last!
        // Cut 5 bytes off frame "c".
        let cutSize = size - 5
        let file = try PosixFileSystem().open(segment, options: .readWrite)
        try file.truncate(to: cutSize)
        try file.close()

        let offline = try Store.verify(at: directory.path, fileSystem: PosixFileSystem())
        #expect(offline.isClean)
        #expect(offline.warnings.count == 1)

        let reopened = try openStore(directory)
        #expect(try reopened.allRecords().map(\.id) == ["a", "b"])
        #expect(reopened.recovery.truncations.count == 1)
        #expect(reopened.recovery.truncations[0].offset == Int64(lastFrame))
        #expect(reopened.recovery.bytesTruncated == cutSize - Int64(lastFrame))
        try reopened.put(record("d"))
        try reopened.close()
        let again = try openStore(directory)
        #expect(again.recovery.truncations.isEmpty)
        #expect(try again.allRecords().map(\.id) == ["a", "b", "d"])
        #expect(try again.verify().warnings.isEmpty)
    }

    @Test func flippedBitInTheMiddleIsCorruptionNotATornTail() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        for id in ["a", "b", "c", "d"] { try store.put(record(id)) }
        try store.close()
        let name = try segmentNames(directory)[0]
        let offsets = try frameOffsets(directory.file(name))
        try flipBit(directory.file(name), at: Int64(offsets[1] + 40), bit: 3)

        let error = try #require(throws: StoreError.self) { try openStore(directory) }
        #expect(error.code == .corruption)
        #expect(error.path == directory.file(name))
        #expect(error.offset == Int64(offsets[1]))

        let report = try Store.verify(at: directory.path, fileSystem: PosixFileSystem())
        #expect(!report.isClean)
        #expect(report.problems.first?.file == name)
        #expect(report.problems.first?.offset == Int64(offsets[1]))

        let salvaged = try openStore(directory, options: StoreOptions(salvage: true))
        #expect(salvaged.recovery.lost.contains { $0.file == name && $0.offset == Int64(offsets[1]) })
        #expect(salvaged.recovery.lost.contains { $0.message.contains("LSNs 2...2 are missing") })
        #expect(try salvaged.allRecords().map(\.id) == ["a", "c", "d"])
        try salvaged.close()
        // Salvage rewrote the store: it opens normally now and verifies clean.
        let repaired = try openStore(directory)
        #expect(try repaired.allRecords().map(\.id) == ["a", "c", "d"])
        #expect(try repaired.verify().isClean)
    }

    @Test func damageInBytesNeverSyncedIsATornTail() throws {
        // Async mode and no sync: no frame claims the segment synced past its header, so damage
        // with valid frames after it was never acknowledged as durable and is cut off.
        let directory = TemporaryDirectory()
        var store: Store? = try openStore(directory, options: StoreOptions(syncMode: .async))
        for id in ["a", "b", "c", "d"] { try store!.put(record(id)) }
        let name = try segmentNames(directory)[0]
        let offsets = try frameOffsets(directory.file(name))
        try flipBit(directory.file(name), at: Int64(offsets[1] + 40))
        store = nil  // abandoned as if its process died (its LOCK goes with it)
        let reopened = try openStore(directory)
        #expect(try reopened.allRecords().map(\.id) == ["a"])
        #expect(reopened.recovery.truncations.first?.offset == Int64(offsets[1]))
    }

    @Test func newestCheckpointDamagedFallsBackToTheOlder() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("a"))
        try store.checkpoint()
        try store.put(record("b"))
        try store.checkpoint()
        try store.put(record("c"))
        try store.close()
        let checkpoints = try PosixFileSystem().listDirectory(directory.path).filter { $0.hasPrefix("checkpoint-") }
        #expect(checkpoints.count == 2)
        try flipBit(directory.file(checkpoints[1]), at: 60)

        let verification = try Store.verify(at: directory.path, fileSystem: PosixFileSystem())
        #expect(verification.problems.map(\.file) == [checkpoints[1]])

        let reopened = try openStore(directory)
        #expect(reopened.recovery.checkpointFile == checkpoints[0])
        #expect(reopened.recovery.skippedCheckpoints.map(\.file) == [checkpoints[1]])
        #expect(try reopened.allRecords().map(\.id) == ["a", "b", "c"])
    }

    @Test func damagedOnlyCheckpointRefusesToOpen() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory, options: StoreOptions(checkpointsKept: 1))
        try store.put(record("a"))
        try store.checkpoint()
        try store.close()
        let checkpoint = try PosixFileSystem().listDirectory(directory.path).first { $0.hasPrefix("checkpoint-") }!
        try flipBit(directory.file(checkpoint), at: 50)
        let error = try #require(throws: StoreError.self) { try openStore(directory) }
        #expect(error.code == .corruption)
        #expect(error.path == directory.file(checkpoint))
    }

    @Test func checkpointRemovesCoveredSegmentsAndBoundsReplay() throws {
        let directory = TemporaryDirectory()
        let options = StoreOptions(segmentSizeLimit: 600, checkpointsKept: 2)
        let store = try openStore(directory, options: options)
        for index in 0..<40 { try store.put(record("r\(index)")) }
        let segmentsBefore = try segmentNames(directory).count
        #expect(segmentsBefore > 5)
        #expect(try store.stats().segmentCount == segmentsBefore)
        try store.checkpoint()
        // The first checkpoint keeps nothing older, so every segment it covers goes.
        #expect(try segmentNames(directory).count == 1)
        for index in 40..<60 { try store.put(record("r\(index)")) }
        try store.checkpoint()
        // Two kept: the log after the older checkpoint stays for fallback.
        let afterSecond = try segmentNames(directory)
        #expect(afterSecond.count > 1)
        #expect(try store.stats().checkpointCount == 2)
        try store.put(record("last"))
        try store.close()
        let reopened = try openStore(directory, options: options)
        #expect(reopened.recovery.checkpointLSN == 60)
        #expect(reopened.recovery.framesReplayed == 1)
        #expect(try reopened.stats().recordCount == 61)
        #expect(try reopened.verify().isClean)
    }

    @Test func maintenanceCheckpointsByLogSize() throws {
        let directory = TemporaryDirectory()
        var options = StoreOptions(syncMode: .async)
        options.autoCheckpointLogBytes = 2_000
        let store = try openStore(directory, options: options)
        for index in 0..<10 { try store.put(record("r\(index)")) }
        try store.runMaintenance()
        #expect(try store.stats().checkpointLSN == nil)
        #expect(try store.stats().lastDurableLSN == 10)
        for index in 10..<40 { try store.put(record("r\(index)")) }
        try store.runMaintenance()
        #expect(try store.stats().checkpointLSN == 40)
    }

    @Test func recoveryIsIdempotent() throws {
        let directory = TemporaryDirectory()
        var store: Store? = try openStore(directory, options: StoreOptions(syncMode: .async))
        for id in ["a", "b", "c"] { try store!.put(record(id)) }
        try store!.sync()
        try store!.put(record("d"))
        store = nil  // abandoned as if its process died (its LOCK goes with it)
        let name = try segmentNames(directory)[0]
        let offsets = try frameOffsets(directory.file(name))
        let file = try PosixFileSystem().open(directory.file(name), options: .readWrite)
        try file.truncate(to: Int64(offsets[3] + 10))
        try file.close()
        // Recover several times without writing: the same state each time, the cut made once.
        var states: [[Record]] = []
        for round in 0..<3 {
            let reopened = try openStore(directory)
            #expect(reopened.recovery.truncations.count == (round == 0 ? 1 : 0))
            states.append(try reopened.allRecords())
        }
        #expect(states.allSatisfy { $0 == states[0] })
        #expect(states[0].map(\.id) == ["a", "b", "c"])
    }

    @Test func leftoversFromInterruptedOperationsAreRemovedAtOpen() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("a"))
        try store.checkpoint()
        try store.put(record("b"))
        try store.close()
        let posix = PosixFileSystem()
        // A crash mid-checkpoint (temp files, a renamed checkpoint the manifest never named) and
        // mid-rotation (a new segment whose header never made it).
        try posix.writeFileAtomically(directory.file("MANIFEST.tmp"), [1, 2, 3])
        try posix.writeFileAtomically(directory.file("checkpoint-00000000000000ff.ckpt"), [4, 5])
        try posix.writeFileAtomically(directory.file("wal-00000000000000ff.log"), Array("TMSEG".utf8))
        let offline = try Store.verify(at: directory.path, fileSystem: posix)
        #expect(offline.isClean)
        #expect(offline.warnings.count == 3)
        let reopened = try openStore(directory)
        #expect(Set(reopened.recovery.removedFiles) == ["MANIFEST.tmp", "checkpoint-00000000000000ff.ckpt", "wal-00000000000000ff.log"])
        #expect(try reopened.allRecords().map(\.id) == ["a", "b"])
        try reopened.put(record("c"))
        #expect(try reopened.verify().warnings.isEmpty)
    }

    @Test func skipDirectorySyncCanarySkipsTheNewSegmentsDirectorySync() throws {
        var syncs: [Int] = []
        for canary in [nil, StoreCanary.skipDirectorySyncOnNewSegment] {
            let directory = TemporaryDirectory()
            let fileSystem = InstrumentedFileSystem()
            var options = StoreOptions(syncMode: .group, canary: canary)
            options.segmentSizeLimit = 300
            let store = try openStore(directory, fileSystem: fileSystem, options: options)
            for index in 0..<10 { try store.put(record("r\(index)")) }
            syncs.append(fileSystem.syncCount)
            #expect(try store.stats().segmentCount > 3)
        }
        #expect(syncs[1] < syncs[0])
    }
}
