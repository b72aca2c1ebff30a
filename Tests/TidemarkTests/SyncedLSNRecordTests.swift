import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// `SYNCED` (`SyncedLSNRecord`): after a dirty death (no clean close, no checkpoint since) a log
/// cut back below the last synced LSN it recorded is a reported loss, not a torn tail; a torn
/// slot falls back to the other, older one; salvage accepts the loss and lowers the record.
@Suite struct SyncedLSNRecordTests {
    let fs = PosixFileSystem()

    /// a-e put one commit each (group mode: each synced); the clock moves past the interval
    /// before e, so `SYNCED` records LSN 5 (and LSN 1 in the other slot, from the first sync).
    /// The writer then dies without closing.
    func dirtyStore(_ directory: TemporaryDirectory, interval: Int64 = 1_000_000_000) throws -> String {
        let clock = ManualClock()
        var options = StoreOptions()
        options.syncedLSNRecordIntervalNanoseconds = interval
        var store: Store? = try openStore(directory, clock: clock, options: options)
        for id in ["a", "b", "c", "d"] { try store!.put(record(id)) }
        clock.advance(seconds: 1)
        try store!.put(record("e"))
        store = nil  // died: no close marker, nothing in the manifest
        return try segmentNames(directory)[0]
    }

    /// Cuts `segment` back to the start of its frame `index` (a frame boundary: nothing to see).
    func cut(_ directory: TemporaryDirectory, _ segment: String, atFrame index: Int) throws -> Int64 {
        let frames = try SegmentScan.scan(fileSystem: fs, path: directory.file(segment), maxPayload: 1 << 20).result.get().frames
        let offset = Int64(frames[index].offset)
        let file = try fs.open(directory.file(segment), options: .readWrite)
        try file.truncate(to: offset)
        try file.close()
        return offset
    }

    func syncedRecord(_ directory: TemporaryDirectory) throws -> (newest: SyncedLSNRecord?, damagedSlots: [Int]) {
        try SyncedLSNRecord.read(directory: directory.path, fileSystem: fs)
    }

    @Test func aDirtyDeathsSyncedTailCutAtAFrameBoundaryIsALoss() throws {
        let directory = TemporaryDirectory()
        let segment = try dirtyStore(directory)
        #expect(try syncedRecord(directory).newest?.lsn == 5)
        let offset = try cut(directory, segment, atFrame: 3)  // d and e gone

        let report = try Store.verify(at: directory.path, fileSystem: fs)
        let problem = try #require(report.problems.first, "\(report)")
        #expect(problem.file == segment && problem.offset == offset, "\(problem)")
        #expect(problem.message.contains("SYNCED records LSN 5") && problem.message.contains("LSNs 4...5"), "\(problem)")
        let refused = try #require(throws: StoreError.self) { try openStore(directory) }
        #expect(refused.code == .corruption && refused.offset == offset && refused.path == directory.file(segment))

        var options = StoreOptions()
        options.salvage = true
        var salvaged: Store? = try openStore(directory, options: options)
        #expect(try salvaged!.allRecords().map(\.id) == ["a", "b", "c"])
        #expect(salvaged!.recovery.lost.contains { $0.file == segment && $0.offset == offset && $0.message.contains("4...5") })
        #expect(try syncedRecord(directory).newest?.lsn == 3, "salvage lowers the record to where the log now ends")
        try salvaged!.put(record("f"))  // LSN 4 again, after the reset
        salvaged = nil  // and dies again
        // The accepted loss is not reported again, and what came after it is there.
        #expect(try Store.verify(at: directory.path, fileSystem: fs).isClean)
        #expect(try openStore(directory).allRecords().map(\.id) == ["a", "b", "c", "f"])
    }

    @Test func theRecordIsWrittenAtMostOncePerInterval() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        var store: Store? = try openStore(directory, clock: clock)
        for id in ["a", "b", "c"] { try store!.put(record(id)) }
        #expect(try syncedRecord(directory).newest?.lsn == 1, "the first sync after open records at once, the next wait")
        clock.advance(seconds: 0.999)
        try store!.put(record("d"))
        #expect(try syncedRecord(directory).newest?.lsn == 1)
        clock.advance(seconds: 0.001)
        try store!.put(record("e"))
        #expect(try syncedRecord(directory).newest?.lsn == 5)
    }

    @Test func aTornNewestSlotFallsBackToTheOlderOne() throws {
        let directory = TemporaryDirectory()
        let segment = try dirtyStore(directory, interval: 0)  // every sync records: slots hold LSN 4 and 5
        let found = try syncedRecord(directory)
        let newest = try #require(found.newest)
        #expect(newest.lsn == 5 && found.damagedSlots.isEmpty)
        // Tear the newest slot's update: its checksum no longer matches.
        try flipBit(directory.file(SyncedLSNRecord.fileName), at: Int64(newest.slot * SyncedLSNRecord.slotStride + 20))
        let fallback = try syncedRecord(directory)
        #expect(fallback.newest == SyncedLSNRecord(slot: 1 - newest.slot, sequence: newest.sequence - 1, lsn: 4))
        #expect(fallback.damagedSlots == [newest.slot])
        let warned = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(warned.isClean && warned.warnings.contains { $0.file == SyncedLSNRecord.fileName }, "\(warned)")

        // Conservative: with LSN 4 proven, cutting e (LSN 5) is a torn tail, cutting d too a loss.
        let copy = TemporaryDirectory()
        try FileManager.default.removeItem(atPath: copy.path)
        try FileManager.default.copyItem(atPath: directory.path, toPath: copy.path)
        _ = try cut(copy, segment, atFrame: 4)
        #expect(try openStore(copy).allRecords().map(\.id) == ["a", "b", "c", "d"])
        let offset = try cut(directory, segment, atFrame: 3)
        let report = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(report.problems.contains { $0.offset == offset && $0.message.contains("SYNCED records LSN 4") }, "\(report)")
    }

    /// Both slots damaged (a torn update after a lost one, or misdirected writes): the first
    /// record written after open repairs both, so `verify`'s warning ("rewritten at the next
    /// sync") is gone after it. Writing only the one slot left the other damaged for a whole
    /// interval, and a liveness check's verify found it (tiers-fsync-errors seed 132).
    @Test func theFirstWriteAfterOpenRepairsBothDamagedSlots() throws {
        let directory = TemporaryDirectory()
        _ = try dirtyStore(directory)  // slots hold LSN 1 and 5
        for slot in 0..<2 { try flipBit(directory.file(SyncedLSNRecord.fileName), at: Int64(slot * SyncedLSNRecord.slotStride + 20)) }
        #expect(try syncedRecord(directory).newest == nil && syncedRecord(directory).damagedSlots == [0, 1])

        var store: Store? = try openStore(directory, clock: ManualClock())
        try store!.put(record("f"))  // the first sync after open records at once
        try store!.put(record("g"))  // within the interval: not recorded
        store = nil
        let found = try syncedRecord(directory)
        #expect(found.newest?.lsn == 6 && found.damagedSlots.isEmpty, "\(found)")
        let report = try Store.verify(at: directory.path, fileSystem: fs)
        #expect(report.isClean && report.warnings.isEmpty, "\(report)")
    }

    @Test func aSlotIsValidOnlyInItsOwnPlace() throws {
        let slot0 = SyncedLSNRecord(slot: 0, sequence: 7, lsn: 42).encode()
        var file = slot0 + [UInt8](repeating: 0, count: SyncedLSNRecord.slotStride - slot0.count) + slot0
        #expect(SyncedLSNRecord.decode(file).newest == SyncedLSNRecord(slot: 0, sequence: 7, lsn: 42))
        #expect(SyncedLSNRecord.decode(file).damagedSlots == [1], "a misdirected copy of slot 0 is not slot 1")
        file.removeLast(slot0.count)
        #expect(SyncedLSNRecord.decode(file).damagedSlots.isEmpty, "slot 1 never written is absent, not damaged")
        #expect(SyncedLSNRecord.decode([UInt8](repeating: 0, count: 64)).newest == nil)
    }

    @Test func checkpointsAndCleanReopensRaiseNoFalseAlarm() throws {
        let directory = TemporaryDirectory()
        var options = StoreOptions()
        options.syncedLSNRecordIntervalNanoseconds = 0
        options.segmentSizeLimit = 400
        for round in 0..<3 {
            var store: Store? = try openStore(directory, options: options)
            for index in 0..<6 { try store!.put(record("r\(round)-\(index)")) }
            try store!.checkpoint()  // removes segments whose LSNs SYNCED recorded
            try store!.put(record("after-\(round)"))
            if round == 1 { try store!.close() } else { store = nil }
            let report = try Store.verify(at: directory.path, fileSystem: fs)
            #expect(report.isClean && report.warnings.isEmpty, "round \(round): \(report)")
        }
        #expect(try openStore(directory, options: options).allRecords().count == 21)
    }

    @Test func aNegativeIntervalIsRefused() throws {
        var options = StoreOptions()
        options.syncedLSNRecordIntervalNanoseconds = -1
        let error = try #require(throws: StoreError.self) { try openStore(TemporaryDirectory(), options: options) }
        #expect(error.code == .invalidInput && error.message.contains("syncedLSNRecordIntervalNanoseconds"))
    }
}
