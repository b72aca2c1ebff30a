import Testing
import TidemarkIO
import TidemarkSimulatedDisk

/// The crash-state enumerator on hand-made pending sets, with every count worked out by hand.
struct CrashStateEnumeratorTests {
    /// `/a` durable and empty; then, all pending: create `/tmp` (c0), append 100 B at 0 (c1),
    /// append 100 B at 100 (c2), rename `/tmp` → `/a` (c3): the rename-replace pattern without
    /// fsync.
    func renameReplaceWithoutSync(seed: UInt64 = 1, faults: FaultConfiguration = .none) throws -> SimulatedFileSystem {
        let disk = SimulatedFileSystem(seed: seed, faults: faults)
        try disk.writeFileAtomically("/a", [])
        let handle = try disk.open("/tmp", options: [.write, .create])
        try handle.write([UInt8](repeating: 1, count: 100), at: 0)
        try handle.write([UInt8](repeating: 2, count: 100), at: 100)
        try handle.close()
        try disk.rename("/tmp", to: "/a")
        return disk
    }

    /// With `enumeratedCrashStates`, a power loss lands the disk in one of the states the
    /// enumerator lists at that call (its image is one of their crash clones'), drawn from the
    /// crash stream: different seeds land in different states, the same seed in the same one.
    @Test func aPowerLossCanDrawItsStateFromTheEnumerator() throws {
        var landed: Set<UInt64> = []
        for seed in UInt64(1)...60 {
            var faults = FaultConfiguration()
            faults.enumeratedCrashStates = .weakest
            func run() throws -> (SimulatedFileSystem, Set<UInt64>) {
                let disk = try renameReplaceWithoutSync(seed: seed, faults: faults)
                let set = disk.crashStates(model: .weakest)
                return (disk, Set(set.states.map { set.materialize($0).imageHash }))
            }
            let (disk, legal) = try run()
            disk.crash(.powerLoss)
            #expect(legal.contains(disk.imageHash), "seed \(seed): the image after the power loss is an enumerated state")
            let (again, _) = try run()
            again.crash(.powerLoss)
            #expect(again.imageHash == disk.imageHash, "seed \(seed) replays")
            landed.insert(disk.imageHash)
        }
        #expect(landed.count >= 10, "60 seeds reach \(landed.count) of the 14 distinct images")
    }

    @Test func twoWritesAndARenameUnderTheWeakestModel() throws {
        let disk = try renameReplaceWithoutSync()
        let set = disk.crashStates(model: .weakest)
        #expect(set.changes.map(\.kind) == [.createFile, .write, .write, .rename])
        // Directory operations: {}, {create}, {create, rename} (the rename needs the create).
        // {}: /tmp is unreachable, so its writes do not matter: 1 state. Otherwise each append
        // is kept, lost, or grew without its data: 3 × 3 = 9 states, twice. 1 + 9 + 9 = 19.
        #expect(set.family == .exhaustive)
        #expect(set.states.count == 19)
        #expect(Set(set.states.map(\.fates)).count == 19)
        for state in set.states where state.fates[3].isKept {
            #expect(state.fates[0].isKept, "a rename never survives without the create it renames")
        }
        for state in set.states where !state.fates[0].isKept {
            #expect(state.fates[1] == .dropped && state.fates[2] == .dropped, "data under a name never made durable is lost with it")
        }
        // Images: (lost, kept) equals (grew, kept) and (lost, grew) equals (grew, grew): 7 distinct
        // per namespace; and the rename of an empty /tmp leaves what {} leaves (an empty /a):
        // 1 + 7 + 6 = 14.
        let hashes = set.states.map { set.materialize($0).imageHash }
        #expect(Set(hashes).count == 14)
        #expect(set.states.allSatisfy { !$0.description.isEmpty })
    }

    @Test func ext4OrderedKeepsTheRenameReplacePatternSafe() throws {
        let disk = try renameReplaceWithoutSync()
        let set = disk.crashStates(model: .ext4Ordered)
        // Every change here is journaled metadata (create, two appends, rename), so survivors
        // form a prefix: {}, {c0}, {c0,c1}, {c0,c1,c2}, all: 5 states.
        #expect(set.family == .exhaustive)
        #expect(set.states.count == 5)
        for state in set.states where state.fates[3].isKept {
            #expect(state.fates[1].isKept && state.fates[2].isKept, "data before the rename that depends on it")
            let clone = set.materialize(state)
            #expect(try clone.readFile("/a") == [UInt8](repeating: 1, count: 100) + [UInt8](repeating: 2, count: 100))
        }
        #expect(set.states.allSatisfy { !$0.fates.contains { $0.grewWithoutData } }, "ext4 data=ordered never grows a file without its data")
    }

    /// Without powersafe overwrite an append that starts mid-sector (c2, at 100) may garble
    /// that sector, the bytes before it included: c2 gains a fate, 3 × 4 = 12 per namespace,
    /// 1 + 12 + 12 = 25. c1 starts an empty file: nothing to garble.
    @Test func powersafeOverwriteOffGarblesTheSectorAnAppendStartsIn() throws {
        let disk = try renameReplaceWithoutSync()
        let set = disk.crashStates(model: .noPowersafeOverwrite)
        #expect(set.states.count == 25)
        let garbled = try #require(set.states.first { $0.fates[1].isKept && $0.fates[2].garbage && $0.fates[3].isKept })
        let image = try set.materialize(garbled).readFile("/a")
        #expect(image.count == 100 && !image.allSatisfy { $0 == 1 }, "c1's bytes share c2's sector")
    }

    @Test func powersafeOverwriteOffAddsNothingForSectorAlignedAppends() throws {
        let disk = SimulatedFileSystem(seed: 1)
        let handle = try disk.open("/f", options: [.write, .create])
        try handle.write([UInt8](repeating: 1, count: 512), at: 0)
        try handle.sync()
        try handle.write([UInt8](repeating: 2, count: 512), at: 512)
        #expect(disk.crashStates(model: .noPowersafeOverwrite).states.count == disk.crashStates(model: .weakest).states.count)
    }

    /// `/f` holds 2048 durable bytes of 0xAA; pending: overwrite 1024 B of 0xBB at 512 (two
    /// sectors) and append 1024 B of 0xCC at 2048 (two sectors).
    func overwriteAndAppend() throws -> SimulatedFileSystem {
        let disk = SimulatedFileSystem(seed: 2)
        try disk.writeFileAtomically("/f", [UInt8](repeating: 0xAA, count: 2048))
        let handle = try disk.open("/f", options: [.read, .write])
        try handle.write([UInt8](repeating: 0xBB, count: 1024), at: 512)
        try handle.write([UInt8](repeating: 0xCC, count: 1024), at: 2048)
        return disk
    }

    @Test func tornWritesAtEverySectorBoundaryPerModel() throws {
        let disk = try overwriteAndAppend()
        // Overwrite: kept, lost, first 1 of 2 sectors, last 1 of 2 = 4. Append: the same 4 plus
        // grew-without-data = 5. 4 × 5 = 20.
        let weakest = disk.crashStates(model: .weakest)
        #expect(weakest.states.count == 20)
        // ext4: the append grows the file (ordered metadata, never torn): kept or lost; and it
        // needs the earlier overwrite of the same file kept whole: overwrite 4 × lost + kept = 5.
        let ext4 = disk.crashStates(model: .ext4Ordered)
        #expect(ext4.states.count == 5)
        #expect(ext4.states.allSatisfy { !$0.fates[1].isKept || $0.fates[0].isKept })
        // No powersafe overwrite: the overwrite may also leave garbage when lost or torn: 4 + 3
        // = 7 fates; the append lands past the old size, so garbage cannot show: 7 × 5 = 35.
        let garbage = disk.crashStates(model: .noPowersafeOverwrite)
        #expect(garbage.states.count == 35)
        #expect(garbage.states.contains { $0.fates[0].garbage })
        #expect(!weakest.states.contains { $0.fates.contains { $0.garbage } })

        let firstSector = try #require(weakest.states.first {
            $0.fates[0] == ChangeFate(.firstSectors, sectors: 1) && $0.fates[1] == .dropped
        })
        let image = try weakest.materialize(firstSector).readFile("/f")
        #expect(image.count == 2048)
        #expect(image[512..<1024].allSatisfy { $0 == 0xBB } && image[1024..<1536].allSatisfy { $0 == 0xAA })
        let grew = try #require(weakest.states.first { $0.fates[0] == .dropped && $0.fates[1].grewWithoutData })
        let grown = try weakest.materialize(grew).readFile("/f")
        #expect(grown.count == 3072 && grown[2048...].allSatisfy { $0 == 0 })
    }

    @Test func boundedFamilyWhenTheStatesExceedTheBudget() throws {
        let disk = try renameReplaceWithoutSync()
        // 19 legal states > 12: prefixes (5), each append grown without data after its prefix
        // (2), prefixes minus one, repaired and deduplicated ({c0,c2}, {c0,c2,c3}, {c0,c1,c3}): 10.
        let set = disk.crashStates(model: .weakest, budget: 12)
        #expect(set.family == .bounded)
        #expect(!set.truncated)
        #expect(set.states.count == 10)
        #expect(set.states.prefix(5).map { $0.fates.filter(\.isKept).count } == [0, 1, 2, 3, 4], "prefixes first")
        let cut = disk.crashStates(model: .weakest, budget: 3)
        #expect(cut.family == .bounded && cut.truncated && cut.states.count == 3)
    }

    @Test func clonesAreIndependentAndPinsRebuildTheSameState() throws {
        let disk = try renameReplaceWithoutSync()
        let set = disk.crashStates()
        let state = try #require(set.states.first { $0.fates[3].isKept && !$0.fates[1].isKept && $0.fates[2].isKept })
        let clone = set.materialize(state)
        #expect(clone.pendingWriteCount() == 0 && clone.pendingDirectoryOperationCount() == 0)
        #expect(try clone.readFile("/a") == [UInt8](repeating: 0, count: 100) + [UInt8](repeating: 2, count: 100))
        #expect(clone.imageHash == disk.crashClone(state.pin).imageHash)
        try clone.writeFileAtomically("/a", [9])
        #expect(try disk.readFile("/a").count == 200, "writing to a clone leaves the original alone")
        #expect(set.materialize(state).imageHash != clone.imageHash)
    }

    @Test func syncedChangesAreNotPending() throws {
        let disk = SimulatedFileSystem(seed: 3)
        try disk.writeFileAtomically("/a", [1, 2, 3])
        let set = disk.crashStates()
        #expect(set.changes.isEmpty && set.states.count == 1)
        #expect(try set.materialize(set.states[0]).readFile("/a") == [1, 2, 3])
    }
}
