import Testing
import TidemarkIO
import TidemarkSimulatedDisk

@testable import Tidemark

/// The failures the crash-consistency verifier found, each reproduced on the simulated file
/// system with targeted faults.
struct HardeningTests {
    let directory = "/store"

    func open(_ fileSystem: SimulatedFileSystem, seed: UInt64 = 1, options: StoreOptions = StoreOptions(syncMode: .immediate)) throws -> Store {
        try Store.open(at: directory, fileSystem: fileSystem, clock: ManualClock(), random: SeededRandom(seed: seed), options: options)
    }

    func ids(_ store: Store) throws -> [String] { try store.allRecords().map(\.id) }

    func segments(_ fileSystem: SimulatedFileSystem) throws -> [String] {
        try fileSystem.listDirectory(directory).filter { $0.hasPrefix("wal-") }.sorted()
    }

    /// A failed fsync marks the frame's pages clean: the reopened store (same process, page cache
    /// intact) sees the frame, but the disk never gets it. New commits must not depend on it.
    @Test func reopenAfterFailedSyncDoesNotBuildOnPageCacheOnlyFrames() throws {
        let fileSystem = SimulatedFileSystem(seed: 7)
        let store = try open(fileSystem)
        try store.put(record("a"))
        fileSystem.faults.fsyncErrorProbability = 1
        #expect(throws: StoreError.self) { try store.put(record("lost-on-disk")) }
        fileSystem.faults.fsyncErrorProbability = 0
        try? store.close()

        let reopened = try open(fileSystem, seed: 2)
        #expect(try ids(reopened) == ["a", "lost-on-disk"])  // served from the page cache
        #expect(reopened.recovery.unprovenFramesReplayed > 0)
        try reopened.put(record("b"))
        try reopened.close()

        _ = fileSystem.crash(.powerLoss)
        let recovered = try open(fileSystem, seed: 3)
        // Everything the reopened store served and acknowledged survives.
        #expect(try ids(recovered) == ["a", "b", "lost-on-disk"])
    }

    /// Without a failed sync, a store closed cleanly leaves a close marker: reopening it replays
    /// the log without checkpointing (the checkpoint is only for tails not proven durable).
    @Test func cleanCloseNeedsNoCheckpointAtOpen() throws {
        let fileSystem = SimulatedFileSystem(seed: 8)
        let store = try open(fileSystem)
        for id in ["a", "b"] { try store.put(record(id)) }
        try store.close()
        let reopened = try open(fileSystem, seed: 2)
        #expect(reopened.recovery.framesReplayed == 2)
        #expect(reopened.recovery.unprovenFramesReplayed == 0)
        #expect(try reopened.stats().checkpointLSN == nil)
        #expect(try reopened.stats().segmentCount == 1)  // appends after the proven end
        try reopened.put(record("b2"))
        try reopened.close()

        // A killed process leaves no marker: the replayed tail is checkpointed at open.
        let killed = try open(fileSystem, seed: 3)
        try killed.put(record("c"))
        _ = fileSystem.crash(.processKill)
        let afterKill = try open(fileSystem, seed: 4)
        #expect(afterKill.recovery.unprovenFramesReplayed == 1)
        #expect(try afterKill.stats().checkpointLSN == 4)
        #expect(try ids(afterKill) == ["a", "b", "b2", "c"])
    }

    /// ENOSPC lands half a frame; the store cuts it back. A power loss must not bring the partial
    /// frame back inside a segment that later gets finished.
    @Test func diskFullCutIsDurable() throws {
        let fileSystem = SimulatedFileSystem(seed: 9)
        let store = try open(fileSystem, options: StoreOptions(syncMode: .immediate, segmentSizeLimit: 4096))
        try store.put(record("a"))
        fileSystem.faults.capacityBytes = fileSystem.bytesUsed + 40
        #expect(throws: StoreError.self) { try store.put(record("too-big", content: String(repeating: "x", count: 400))) }
        fileSystem.faults.capacityBytes = nil
        _ = fileSystem.crash(.powerLoss)
        let segment = FilePaths.join(directory, try segments(fileSystem).last!)
        let durable = try #require(fileSystem.durableContents(segment))
        let scan = try SegmentScan.scan(fileSystem: fileSystem, path: segment, maxPayload: 1 << 20).result.get()
        #expect(scan.damage.isEmpty, "partial frame survived: \(durable.count) bytes, damage \(scan.damage.map(\.reason))")
    }

    /// A finished segment whose end is torn, but whose frames the next segment continues, lost
    /// nothing: recovery cuts it. Damage that hides an LSN stays corruption.
    @Test func tornEndOfAFinishedSegmentIsCutWhenTheNextContinues() throws {
        let fileSystem = SimulatedFileSystem(seed: 10)
        let store = try open(fileSystem, options: StoreOptions(syncMode: .immediate, segmentSizeLimit: 256))
        for id in ["a", "b", "c", "d"] { try store.put(record(id)) }
        try store.close()
        let names = try segments(fileSystem)
        #expect(names.count >= 2)
        let first = FilePaths.join(directory, names[0])
        let garbage: [UInt8] = Array("TMFR".utf8) + [UInt8](repeating: 0x5a, count: 60)
        let handle = try fileSystem.open(first, options: .readWrite)
        try handle.write(garbage, at: try handle.size())
        try handle.sync()
        try handle.close()

        let reopened = try open(fileSystem, seed: 2)
        #expect(try ids(reopened) == ["a", "b", "c", "d"])
        #expect(reopened.recovery.truncations.map(\.file) == [names[0]])
        try reopened.close()

        // Corrupting the last frame of that segment hides its LSN: refused.
        let scan = try SegmentScan.scan(fileSystem: fileSystem, path: first, maxPayload: 1 << 20).result.get()
        let last = try #require(scan.frames.last)
        let rot = try fileSystem.open(first, options: .readWrite)
        try rot.write([0xff], at: Int64(last.offset + Frame.headerSize))
        try rot.sync()
        try rot.close()
        #expect { try open(fileSystem, seed: 3) } throws: { ($0 as? StoreError)?.code == .corruption }
    }

    /// With `sectorAlignment`, every sync ends on a sector boundary, so the next frame never
    /// shares a sector with synced bytes; replay skips the padding.
    @Test func sectorAlignmentKeepsWritesOffSyncedSectors() throws {
        let fileSystem = SimulatedFileSystem(seed: 11)
        let store = try open(fileSystem, options: StoreOptions(syncMode: .immediate, sectorAlignment: 512))
        var frameOffsets: [Int64] = []
        for id in ["a", "b", "c"] {
            let before = fileSystem.trace.count
            try store.put(record(id))
            // The commit's frame write, then the padding write that ends the synced region.
            let writes = fileSystem.trace[before...].filter { $0.operation == .write }
            #expect(writes.count == 2)
            frameOffsets.append(writes.first?.offset ?? -1)
            #expect(writes.last.map { ($0.offset ?? 0) + Int64($0.length ?? 0) } == frameOffsets.last! + 512)
        }
        #expect(frameOffsets == [512, 1024, 1536])
        try store.close()
        let reopened = try open(fileSystem, seed: 2, options: StoreOptions(syncMode: .immediate, sectorAlignment: 512))
        #expect(try ids(reopened) == ["a", "b", "c"])
        #expect(throws: StoreError.self) { try open(SimulatedFileSystem(seed: 1), options: StoreOptions(sectorAlignment: 100)) }
    }

    /// Seed 104 of torn-writes: a torn write of the next frame puts garbage in the sector it
    /// shares with the previous, acknowledged frame. Returns whether that frame survived.
    func acknowledgedFrameSurvivesGarbageTornWrite(seed: UInt64, alignment: Int) throws -> Bool {
        let fileSystem = SimulatedFileSystem(seed: seed)
        let options = StoreOptions(syncMode: .immediate, sectorAlignment: alignment)
        let store = try open(fileSystem, options: options)
        try store.put(record("acked"))
        // The next frame is written, the process dies before its sync, and at the power loss
        // its write is torn with garbage in the sectors that did not land.
        fileSystem.faults = FaultConfiguration(tornWriteProbability: 1, garbageProbability: 1)
        fileSystem.killPoint = KillPoint(afterCalls: fileSystem.callCount, operation: .syncData)
        _ = try? store.put(record("unacked", content: String(repeating: "u", count: 700)))
        _ = fileSystem.crash(.powerLoss)
        fileSystem.faults = .none
        fileSystem.killPoint = nil
        guard let reopened = try? open(fileSystem, seed: 2, options: options) else { return false }
        return (try? reopened.get("acked")) != nil
    }

    @Test func sectorAlignmentProtectsAcknowledgedFramesFromGarbageSectors() throws {
        var lostWithoutAlignment = 0
        for seed in UInt64(1)...20 {
            if try !acknowledgedFrameSurvivesGarbageTornWrite(seed: seed, alignment: 0) { lostWithoutAlignment += 1 }
            #expect(try acknowledgedFrameSurvivesGarbageTornWrite(seed: seed, alignment: 512), "seed \(seed)")
        }
        // Assuming powersafe overwrite on a disk without it loses acknowledged data.
        #expect(lostWithoutAlignment > 0)
    }

    /// Bit rot in the last frame looks like a torn write; recovery cuts it and says it may have
    /// lost data.
    @Test func bitRotInTheLastFrameIsReportedAsPossibleLoss() throws {
        let fileSystem = SimulatedFileSystem(seed: 13)
        let store = try open(fileSystem)
        for id in ["a", "b"] { try store.put(record(id)) }
        _ = fileSystem.crash(.processKill)
        let name = try segments(fileSystem).last!
        let path = FilePaths.join(directory, name)
        let scan = try SegmentScan.scan(fileSystem: fileSystem, path: path, maxPayload: 1 << 20).result.get()
        let last = try #require(scan.frames.last)
        let handle = try fileSystem.open(path, options: .readWrite)
        try handle.write([0x01 ^ (try handle.read(at: Int64(last.offset + 40), count: 1)[0])], at: Int64(last.offset + 40))
        try handle.sync()
        try handle.close()

        let reopened = try open(fileSystem, seed: 2)
        #expect(try ids(reopened) == ["a"])
        #expect(reopened.recovery.reportsPossibleLoss)
        #expect(reopened.recovery.truncations.first?.frameHeaderIntact == true)
    }

    /// A torn tail shorter than a frame header is an ordinary torn write: no loss reported.
    @Test func shortTornTailReportsNoPossibleLoss() throws {
        let fileSystem = SimulatedFileSystem(seed: 14)
        let store = try open(fileSystem)
        try store.put(record("a"))
        _ = fileSystem.crash(.processKill)
        let path = FilePaths.join(directory, try segments(fileSystem).last!)
        let handle = try fileSystem.open(path, options: .readWrite)
        try handle.write(Array("TMFR".utf8) + [1, 1, 0, 0, 7, 7], at: try handle.size())
        try handle.sync()
        try handle.close()
        let reopened = try open(fileSystem, seed: 2)
        #expect(reopened.recovery.truncations.count == 1)
        #expect(!reopened.recovery.reportsPossibleLoss)
    }

    /// After falling back to an older checkpoint, open rewrites the manifest so it no longer
    /// names the damaged one.
    @Test func manifestIsRewrittenAfterCheckpointFallback() throws {
        let fileSystem = SimulatedFileSystem(seed: 15)
        let store = try open(fileSystem)
        try store.put(record("a"))
        try store.checkpoint()
        try store.put(record("b"))
        try store.checkpoint()
        try store.close()
        let newest = FilePaths.join(directory, StoreFiles.checkpointName(lsn: 2))
        let handle = try fileSystem.open(newest, options: .readWrite)
        try handle.write([0xee], at: 45)
        try handle.sync()
        try handle.close()

        let reopened = try open(fileSystem, seed: 2)
        #expect(reopened.recovery.skippedCheckpoints.count == 1)
        try reopened.close()
        let again = try open(fileSystem, seed: 3)
        #expect(again.recovery.skippedCheckpoints.isEmpty)
        #expect(try ids(again) == ["a", "b"])
    }
}

extension HardeningTests {
    /// Bit rot in the magic of the only frame of the last segment: the rest of the header is
    /// plausible and the frame whole, so recovery reports a possible loss (bit-rot seed 2013).
    @Test func bitRotInTheMagicOfTheLastFrameIsReportedAsPossibleLoss() throws {
        let fileSystem = SimulatedFileSystem(seed: 16)
        let store = try open(fileSystem)
        try store.put(record("a"))
        _ = fileSystem.crash(.processKill)
        let path = FilePaths.join(directory, try segments(fileSystem).last!)
        let handle = try fileSystem.open(path, options: .readWrite)
        let offset = Int64(SegmentHeader.size)
        try handle.write([0x10 ^ (try handle.read(at: offset, count: 1)[0])], at: offset)
        try handle.sync()
        try handle.close()
        let reopened = try open(fileSystem, seed: 2)
        #expect(try ids(reopened).isEmpty)
        #expect(reopened.recovery.reportsPossibleLoss)
    }
}
