import PropertyBased
import Testing
import TidemarkIO
@testable import TidemarkSimulatedDisk

/// For random write sequences and a power loss, the recovered bytes are explained by what was
/// durable and what was pending, never invented.
struct SimulatedFileSystemPropertyTests {
    struct PlannedWrite: Sendable {
        var offset: Int
        var length: Int
        var syncAfter: Bool
    }

    static let writes = zip(Gen.int(in: 0...3000), Gen.int(in: 1...1500), Gen.int(in: 0...4))
        .map { offset, length, syncRoll in PlannedWrite(offset: offset, length: length, syncAfter: syncRoll == 0) }
        .array(of: 1...12)

    static let faults = zip(Gen.int(in: 0...4), Gen.bool, Gen.bool, Gen.bool)
        .map { survival, garbage, prefix, bigSectors in
            FaultConfiguration(
                writeSurvivalProbability: Double(survival) / 4, reorder: prefix ? .orderedPrefix : .subset,
                tornWriteProbability: 0.5, sectorSize: bigSectors ? 4096 : 512,
                garbageProbability: garbage ? 0.5 : 0, earlyWritebackProbability: 0.1)
        }

    @Test func recoveredBytesAreOldDurableOrPendingOrTornGarbage() async {
        await propertyCheck(count: 300, input: Gen.uint64(in: 0...UInt64.max), Self.writes, Self.faults) { seed, plan, faults in
            do {
                try Self.check(seed: seed, plan: plan, faults: faults)
            } catch {
                Issue.record("seed \(seed): \(error)")
            }
        }
    }

    static func check(seed: UInt64, plan: [PlannedWrite], faults: FaultConfiguration) throws {
        let fs = SimulatedFileSystem(seed: seed)
        try Disk.durableFile(fs, "/f", (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) })
        fs.faults = faults
        let handle = try fs.open("/f", options: .readWrite)
        var pending: [(offset: Int, bytes: [UInt8])] = []
        for (index, write) in plan.enumerated() {
            // Each write's bytes are distinct from the others' at the same offset.
            let bytes = (0..<write.length).map { UInt8(truncatingIfNeeded: 1 + index * 17 + $0 * 3) }
            try handle.write(bytes, at: Int64(write.offset))
            pending.append((write.offset, bytes))
            if write.syncAfter {
                try handle.sync()
                pending.removeAll()
            }
        }
        let durable = try #require(fs.durableContents("/f"))
        let report = fs.crash(.powerLoss)
        let recovered = try fs.readFile("/f")

        let writtenEnd = pending.map { $0.offset + $0.bytes.count }.max() ?? 0
        #expect(recovered.count >= durable.count, "seed \(seed): the file shrank")
        #expect(recovered.count <= max(durable.count, writtenEnd), "seed \(seed): size beyond anything written")

        let sector = faults.effectiveSectorSize
        var tornSectors: Set<Int> = []
        for write in report.writes where write.fate == .torn {
            let first = Int(write.offset) / sector, last = (Int(write.offset) + write.length - 1) / sector
            tornSectors.formUnion(first...last)
        }
        // Past the old end, a zero is a hole only when some landed byte lies beyond it.
        var landedEnd = 0
        for write in report.writes {
            let end = Int(write.offset) + write.length
            if write.fate == .survived { landedEnd = max(landedEnd, end) }
            if write.fate == .torn, let last = write.keptSectors.max() { landedEnd = max(landedEnd, min(end, (Int(last) + 1) * sector)) }
        }
        for (index, byte) in recovered.enumerated() {
            if index < durable.count ? byte == durable[index] : (byte == 0 && index < landedEnd) { continue }
            if pending.contains(where: { index >= $0.offset && index < $0.offset + $0.bytes.count && $0.bytes[index - $0.offset] == byte }) {
                continue
            }
            let explained = faults.garbageProbability > 0 && tornSectors.contains(index / sector)
            #expect(explained, "seed \(seed): byte \(index) = \(byte) is neither old, written nor torn garbage")
            if !explained { return }
        }
    }

    /// Power-loss faults that only ever touch what is pending.
    static let pendingOnlyFaults = zip(Gen.int(in: 0...4), Gen.int(in: 0...4), Gen.bool, Gen.bool)
        .map { survival, directorySurvival, prefix, garbage in
            FaultConfiguration(
                writeSurvivalProbability: Double(survival) / 4, keepAllProbability: 0.1,
                directoryOperationSurvivalProbability: Double(directorySurvival) / 4,
                reorder: prefix ? .orderedPrefix : .subset, tornWriteProbability: 0.5,
                garbageProbability: garbage ? 0.5 : 0, unsafeAppendProbability: 0.3, earlyWritebackProbability: 0.1)
        }

    /// Syncs every file and then every directory reachable from the root.
    static func syncEverything(_ fs: SimulatedFileSystem, _ directory: String = "/") throws {
        for name in try fs.listDirectory(directory) {
            let path = FilePaths.join(directory, name)
            if try fs.status(path).kind == .directory {
                try syncEverything(fs, path)
            } else {
                let handle = try fs.open(path, options: .read)
                try handle.sync()
                try handle.close()
            }
        }
        try fs.syncDirectory(directory)
    }

    @Test func fullySyncedStateSurvivesAnyPowerLossAndProcessKill() async {
        await propertyCheck(count: 150, input: Gen.uint64(in: 0...UInt64.max), Self.pendingOnlyFaults) { seed, faults in
            do {
                let fs = SimulatedFileSystem(seed: seed, faults: faults)
                let side = SimulatedFileSystemFidelityTests.Side(fs, base: "")
                let random = SeededRandom(seed: seed)
                for _ in 0..<40 { _ = SimulatedFileSystemFidelityTests.step(random, [side]) }
                try Self.syncEverything(fs)
                let synced = try SimulatedFileSystemFidelityTests.tree(side)
                fs.crash(.processKill)
                #expect(try SimulatedFileSystemFidelityTests.tree(side) == synced, "seed \(seed): process kill")
                // Unsynced changes after the sync point may or may not survive; none were made.
                fs.crash(.powerLoss)
                #expect(try SimulatedFileSystemFidelityTests.tree(side) == synced, "seed \(seed): power loss")
                #expect(fs.pendingWriteCount() == 0)
            } catch {
                Issue.record("seed \(seed): \(error)")
            }
        }
    }
}
