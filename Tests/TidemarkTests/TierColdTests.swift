import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// The cold tier, flushes, reads across tiers, tombstones, TTLs and recovery that combines
/// the cold tier's LSN, the checkpoint and the log.
struct TierColdTests {
    private func options(budget: Int = 1 << 20, age: Double = 300, sync: SyncMode = .immediate) -> StoreOptions {
        var options = StoreOptions(syncMode: sync)
        options.tiers = TierOptions(hotMemoryBytes: budget, hotToColdAge: age)
        return options
    }

    @Test func idleRecordsFlushToColdAndReadsSpanBothTiers() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let store = try openStore(directory, clock: clock, options: options())
        try store.put(record("a", [1, 0, 0]))
        try store.put(record("b", [0, 1, 0]))
        clock.advance(seconds: 200)
        try store.put(record("c", [0, 0, 1]))
        #expect(try store.runMaintenance().flushed == 0)  // a and b are only 200 s idle
        clock.advance(seconds: 101)
        let report = try store.runMaintenance()
        #expect(report.flushed == 3)  // a flush writes every dirty record: the cold tier is the checkpoint
        #expect(report.evicted == 2)  // a and b, idle and now clean, leave memory; c stays cached
        #expect(report.checkpointed)
        let stats = try #require(try store.stats().tiers)
        #expect(stats.coldCount == 3 && stats.hotCount == 1 && stats.dirtyCount == 0)
        #expect(stats.coldLSN == 3)
        #expect(try store.stats().recordCount == 3)
        #expect(try store.get("a") == record("a", [1, 0, 0]))
        #expect(try store.allRecords().map(\.id) == ["a", "b", "c"])
        #expect(try store.search(embedding: [0, 1, 0], k: 1).map(\.record.id) == ["b"])
        #expect(try store.search(embedding: [0, 0, 1], k: 3).first?.record.id == "c")
        try store.put(record("d", [1, 1, 0]))
        try store.close()
        // Records survive in the cold tier; the dirty record's age survives a clean close (the
        // access hint), so it is flushed once idle long enough counting the time before the close.
        let reopened = try openStore(directory, clock: clock, options: options())
        #expect(try reopened.allRecords().map(\.id) == ["a", "b", "c", "d"])
        #expect(try reopened.stats().tiers?.coldCount == 3)
        #expect(try reopened.stats().recordCount == 4)
        clock.advance(seconds: 200)
        #expect(try reopened.runMaintenance().flushed == 0)
        clock.advance(seconds: 101)
        #expect(try reopened.runMaintenance().flushed == 1)
        #expect(try reopened.stats().tiers?.coldCount == 4)
        try reopened.close()
    }

    @Test func newestVersionWinsAcrossTiers() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        do {
            let store = try openStore(directory, clock: clock, options: options())
            try store.put(record("a", content: "v1"))
            clock.advance(seconds: 400)
            try store.runMaintenance()
            try store.put(record("a", content: "v2"))  // hot v2 shadows cold v1
            #expect(try store.get("a")?.content == "v2")
            #expect(try store.allRecords().map(\.content) == ["v2"])
            // crash: dropped without close
        }
        let store = try openStore(directory, clock: clock, options: options())
        #expect(try store.get("a")?.content == "v2")
        clock.advance(seconds: 400)
        try store.runMaintenance()
        #expect(try store.stats().tiers?.hotCount == 0)
        #expect(try store.get("a")?.content == "v2")
        try store.close()
    }

    @Test func deletesAreTombstonesUntilTheColdTierHasThem() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        do {
            let store = try openStore(directory, clock: clock, options: options())
            try store.put(record("a"))
            try store.put(record("b"))
            clock.advance(seconds: 400)
            #expect(try store.runMaintenance().flushed == 2)
            #expect(try store.delete("a"))
            #expect(try store.get("a") == nil)
            #expect(try store.stats().tiers?.tombstones == 1)
            #expect(try store.stats().tiers?.coldCount == 2)  // the row is still there, hidden
            // crash before any cold commit removed the row
        }
        let store = try openStore(directory, clock: clock, options: options())
        #expect(try store.get("a") == nil, "the replayed delete must hide the cold row")
        #expect(try store.allRecords().map(\.id) == ["b"])
        // The row goes at the next cold commit (open's own checkpoint after replay, or maintenance).
        try store.runMaintenance()
        #expect(try store.stats().tiers?.coldCount == 1)
        #expect(try store.stats().tiers?.tombstones == 0)
        try store.close()
    }

    @Test func expiredRecordsGoFromBothTiers() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let store = try openStore(directory, clock: clock, options: options())
        try store.put(record("short"), ttl: 60)
        try store.put(record("long"), ttl: 1000)
        try store.put(record("forever"))
        clock.advance(seconds: 61)
        #expect(try store.get("short") == nil)
        clock.advance(seconds: 300)
        let first = try store.runMaintenance()
        #expect(first.expired == 1)  // short: dropped instead of flushed
        #expect(first.flushed == 2)
        #expect(try store.stats().tiers?.coldCount == 2)
        clock.advance(seconds: 700)
        #expect(try store.get("long") == nil)
        let second = try store.runMaintenance()
        #expect(second.expired == 1)  // long: its cold row deleted
        #expect(try store.stats().tiers?.coldCount == 1)
        #expect(try store.allRecords().map(\.id) == ["forever"])
        try store.close()
    }

    @Test func recoveryCombinesColdLSNCheckpointAndLog() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let fileSystem = InstrumentedFileSystem()
        do {
            let store = try openStore(directory, fileSystem: fileSystem, clock: clock, options: options())
            for id in ["a", "b", "c"] { try store.put(record(id)) }
            clock.advance(seconds: 400)
            try store.put(record("d"))
            // The checkpoint after the flush fails (disk full on its temp file), so the cold
            // tier is ahead of the newest checkpoint: recovery replays records it has.
            fileSystem.faults.withLock { $0.diskFullFor = ".ckpt.tmp" }
            #expect(throws: StoreError.self) { try store.runMaintenance() }
            fileSystem.faults.withLock { $0.diskFullFor = nil }
            #expect(try store.stats().tiers?.coldCount == 4)
            #expect(try store.stats().checkpointLSN == nil)
            try store.delete("b")
            try store.put(record("e"))
            // crash
        }
        let store = try openStore(directory, clock: clock, options: options())
        #expect(store.recovery.checkpointLSN == nil)
        #expect(try store.allRecords().map(\.id) == ["a", "c", "d", "e"])
        #expect(try store.stats().recordCount == 4)
        #expect(try store.stats().tiers!.coldLSN >= 4)
        // Checkpoint + cold tier now cover everything: the log shrinks and a reopen agrees.
        try store.checkpoint()
        #expect(try store.stats().tiers?.tombstones == 0)
        try store.close()
        let again = try openStore(directory, clock: clock, options: options())
        #expect(again.recovery.framesReplayed == 0)
        #expect(try again.allRecords().map(\.id) == ["a", "c", "d", "e"])
        try again.close()
    }

    @Test func coldTierBehindOrMissingIsCorruptionNotSilentLoss() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let fileSystem = PosixFileSystem()
        let coldPath = directory.file(ColdTier.fileName)
        do {
            let store = try openStore(directory, clock: clock, options: options())
            try store.put(record("a"))
            try store.close()
        }
        let stale = try fileSystem.readFile(coldPath)
        do {
            let store = try openStore(directory, clock: clock, options: options())
            clock.advance(seconds: 400)
            #expect(try store.runMaintenance().flushed == 1)
            try store.close()
        }
        let current = try fileSystem.readFile(coldPath)
        try fileSystem.writeFileAtomically(coldPath, stale)
        let behind = #expect(throws: StoreError.self) { try openStore(directory, clock: clock, options: options()) }
        #expect(behind?.code == .corruption)
        #expect(behind?.message.contains("behind the checkpoint") == true)
        try fileSystem.remove(coldPath)
        let missing = #expect(throws: StoreError.self) { try openStore(directory, clock: clock, options: options()) }
        #expect(missing?.code == .corruption)
        #expect(missing?.message.contains("missing") == true)
        // Opening a tiered store without tiers would hide its cold records: refused.
        try fileSystem.writeFileAtomically(coldPath, current)
        let untiered = #expect(throws: StoreError.self) { try openStore(directory, clock: clock) }
        #expect(untiered?.code == .invalidInput)
        #expect(try openStore(directory, clock: clock, options: options()).get("a") == record("a"))
    }

    @Test func coldTierAheadOfTheLogIsCorruptionNotACrash() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        do {
            let store = try openStore(directory, clock: clock, options: options())
            for id in ["a", "b"] { try store.put(record(id)) }
            clock.advance(seconds: 400)
            #expect(try store.runMaintenance().flushed == 2)
            try store.close()
        }
        // Lose the log and checkpoints (as damage would): the cold tier reflects LSN 2, the
        // recovered log ends at 0.
        let fileSystem = PosixFileSystem()
        for name in try fileSystem.listDirectory(directory.path)
        where name == "MANIFEST" || name == SyncedLSNRecord.fileName || name.hasSuffix(".ckpt") || name.hasSuffix(".log") {
            try fileSystem.remove(directory.file(name))
        }
        let error = #expect(throws: StoreError.self) { try openStore(directory, clock: clock, options: options()) }
        #expect(error?.code == .corruption)
        #expect(error?.message.contains("beyond the end of the recovered log") == true)
    }

    @Test func coldRowChecksumCatchesDamage() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let store = try openStore(directory, clock: clock, options: options())
        try store.put(record("a", content: "find-me-in-the-page"))
        clock.advance(seconds: 400)
        try store.runMaintenance()
        try store.close()
        // Flip a bit inside the record's content where SQLite stored it.
        let path = directory.file(ColdTier.fileName)
        let bytes = try PosixFileSystem().readFile(path)
        let needle = Array("find-me-in-the-page".utf8)
        let offset = try #require((0...(bytes.count - needle.count)).first { bytes[$0..<($0 + needle.count)].elementsEqual(needle) })
        try flipBit(path, at: Int64(offset + 3))
        let reopened = try openStore(directory, clock: clock, options: options())
        let error = #expect(throws: StoreError.self) { try reopened.get("a") }
        #expect(error?.code == .corruption)
        #expect(error?.message.contains("checksum") == true)
    }

    @Test func maintenanceRunnerMigratesAndStopsAtClose() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()  // its sleep advances time, so the runner ages records quickly
        let store = try openStore(directory, clock: clock, options: options(age: 60))
        for id in ["a", "b", "c"] { try store.put(record(id)) }
        try store.startMaintenanceRunner(interval: 5)
        #expect(throws: StoreError.self) { try store.startMaintenanceRunner(interval: 5) }
        var waited = 0
        while try store.stats().tiers!.coldCount < 3 && waited < 2000 {
            usleep(5000)
            waited += 1
        }
        #expect(try store.stats().tiers?.coldCount == 3)
        try store.close()  // joins the thread
        #expect(throws: StoreError.self) { try store.runMaintenance() }
    }
}
