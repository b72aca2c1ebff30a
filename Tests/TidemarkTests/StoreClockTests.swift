import Testing
import TidemarkIO
import TidemarkSimulatedDisk

@testable import Tidemark

/// The store's time never runs backwards (`StoreClock`): a record that expired stays expired
/// when the wall clock steps back, within the process and after a restart.
@Suite struct StoreClockTests {
    /// Puts "short" (10 s) and "forever" at the clock's time, then lets "short" expire.
    private func storeWithAnExpiredRecord(_ directory: TemporaryDirectory, _ clock: ManualClock, tiers: Bool = false) throws -> Store {
        let store = try openStore(directory, clock: clock, options: options(tiers: tiers))
        try store.put(record("short"), ttl: 10)
        try store.put(record("forever"))
        clock.advance(seconds: 20)
        #expect(try store.get("short") == nil)
        return store
    }

    private func options(tiers: Bool) -> StoreOptions {
        var options = StoreOptions(syncMode: .immediate)
        if tiers { options.tiers = TierOptions(hotMemoryBytes: 1 << 20, hotToColdAge: 1) }
        return options
    }

    private func expectExpired(_ store: Store) throws {
        #expect(try store.get("short") == nil)
        #expect(try store.allRecords().map(\.id) == ["forever"])
        #expect(try store.search(embedding: [1, 0, 0], k: 5).map(\.record.id) == ["forever"])
    }

    @Test func expiredRecordStaysExpiredWhenTheClockStepsBack() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let store = try storeWithAnExpiredRecord(directory, clock)
        clock.stepWall(by: -15_000_000_000)  // 5 s after the put: "short" had 5 s to live by this clock
        try expectExpired(store)
        // A TTL counts from the store's time (+20 s), not from the stepped-back clock (+5 s).
        try store.put(record("later"), ttl: 10)
        clock.advance(seconds: 10)
        #expect(try store.get("later") != nil)
        clock.advance(seconds: 15)
        #expect(try store.get("later") == nil)
        try store.close()
    }

    @Test func expiredRecordStaysExpiredAfterACleanCloseAndAClockStepBack() throws {
        for tiers in [false, true] {
            let directory = TemporaryDirectory()
            let clock = ManualClock()
            try storeWithAnExpiredRecord(directory, clock, tiers: tiers).close()
            clock.stepWall(by: -15_000_000_000)
            let reopened = try openStore(directory, clock: clock, options: options(tiers: tiers))
            try expectExpired(reopened)
            try reopened.close()
        }
    }

    @Test func recoveryRestoresTheTimeOfTheLastCommitAfterAPowerLoss() throws {
        let fileSystem = SimulatedFileSystem(seed: 3)
        let clock = ManualClock()
        func open() throws -> Store {
            try Store.open(at: "/store", fileSystem: fileSystem, clock: clock, random: SeededRandom(seed: 1), options: options(tiers: false))
        }
        let store = try open()
        try store.put(record("short"), ttl: 10)
        clock.advance(seconds: 20)
        try store.put(record("forever"))  // commits at +20 s, after "short" expired
        _ = fileSystem.crash(.powerLoss)  // no clean close: only the commits record the time
        clock.stepWall(by: -15_000_000_000)
        try expectExpired(try open())
    }

    @Test func aCommitRecordsItsTimeAndAnOlderCommitStillDecodes() throws {
        let operations: [LogOperation] = [.put(record("a")), .delete(id: "b")]
        let old = RecordCoding.encode(operations)
        #expect(try RecordCoding.decodeCommit(old[...]).time == nil)
        #expect(try RecordCoding.decodeCommit(old[...]).operations == operations)
        let timed = RecordCoding.encode(operations, time: 1_704_067_200_000_000_000)
        #expect(try RecordCoding.decodeCommit(timed[...]).time == 1_704_067_200_000_000_000)
        #expect(try RecordCoding.decodeCommit(timed[...]).operations == operations)
    }

    @Test func aVersion2ManifestStillReadsWithNoTime() throws {
        var writer = ByteWriter()
        writer.raw(Manifest.magic)
        writer.u32(2)
        writer.u32(1)
        writer.u64(7)
        writer.u32(0xABCD)
        writer.u64(9)
        writer.u32(CRC32C.checksum(writer.bytes))
        let manifest = try Manifest.decode(writer.bytes, path: "MANIFEST")
        #expect(manifest == Manifest(checkpoints: [.init(lsn: 7, fileChecksum: 0xABCD)], durableLSN: 9, storeTime: 0))
        let current = Manifest(checkpoints: [.init(lsn: 7, fileChecksum: 0xABCD)], durableLSN: 9, storeTime: 42)
        #expect(try Manifest.decode(current.encode(), path: "MANIFEST") == current)
    }
}
