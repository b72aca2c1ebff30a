import Foundation
import Testing
import TidemarkIO
import TidemarkSimulatedDisk
import TidemarkSimulation

/// A scenario's fault ranges drawn per seed straight into the disk's own configuration.
struct FaultRangesTests {
    @Test func drawsFixedValuesIntoTheDiskConfiguration() {
        var ranges = FaultRanges()
        ranges.dropUnsynced = DoubleRange(0.25)
        ranges.dropDirectoryOperation = DoubleRange(0.75)
        ranges.bitRot = DoubleRange(0.3)
        ranges.fsyncError = DoubleRange(0.1)
        ranges.reorder = .orderedPrefix
        ranges.sectorSize = 4096
        ranges.capacityBytes = IntRange(5000)
        ranges.powerLoss = DoubleRange(0.5)
        let drawn = ranges.draw(seed: 9)
        #expect(drawn.disk.writeSurvivalProbability == 0.75)
        #expect(drawn.disk.directoryOperationSurvivalProbability == 0.25)
        #expect(drawn.disk.bitRotPerCrashProbability == 0.3)
        #expect(drawn.disk.bitRotPerFileProbability == 0.5)
        #expect(drawn.disk.fsyncErrorProbability == 0.1)
        #expect(drawn.disk.reorder == .orderedPrefix)
        #expect(drawn.disk.sectorSize == 4096)
        #expect(drawn.disk.capacityBytes == 5000)
        #expect(drawn.disk.injectsCorruption && drawn.disk.injectsIOErrors)
        #expect(drawn.crashes.powerLoss == 0.5)
        #expect(FaultRanges().draw(seed: 9).disk.bitRotPerFileProbability == 0)
        #expect(!FaultRanges().draw(seed: 9).disk.injectsCorruption)
    }

    /// Knobs added for issue 10 draw after every older one and only when set: setting them
    /// leaves every older value of the same seed as it was (so existing trace hashes hold).
    /// Failure files written before the later knobs existed still load, with those knobs off.
    @Test func failureFilesWithoutTheLaterKnobsStillDecode() throws {
        var ranges = FaultRanges()
        ranges.fsyncError = DoubleRange(0.25)
        var object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(ranges)) as? [String: Any])
        for key in ["sectorGarble", "killMidWrite", "evictCleanPages", "writebackError", "syncNoSpace", "fsyncErrorReporting",
                    "writebackNoSpace", "shutdown", "readOnlyRemount", "holdSpaceUntilUnlinkDurable"] {
            #expect(object.removeValue(forKey: key) != nil, "\(key) is encoded")
        }
        let old = try JSONSerialization.data(withJSONObject: object)
        #expect(try JSONDecoder().decode(FaultRanges.self, from: old) == ranges)
        object.removeValue(forKey: "fsyncError")
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(FaultRanges.self, from: JSONSerialization.data(withJSONObject: object))
        }
    }

    @Test func laterKnobsLeaveEarlierDrawsAlone() {
        var ranges = FaultRanges()
        ranges.tornWrite = DoubleRange(0.2, 0.4)
        ranges.capacityBytes = IntRange(1000, 2000)
        var extended = ranges
        extended.sectorGarble = DoubleRange(0.1, 0.9)
        extended.killMidWrite = DoubleRange(0.1, 0.9)
        extended.evictCleanPages = DoubleRange(0.1, 0.9)
        extended.writebackNoSpace = DoubleRange(0.1, 0.9)
        extended.shutdown = DoubleRange(0.1, 0.9)
        extended.readOnlyRemount = DoubleRange(0.1, 0.9)
        extended.fsyncErrorReporting = .errseq
        extended.holdSpaceUntilUnlinkDurable = true
        for seed: UInt64 in 1...20 {
            var drawn = extended.draw(seed: seed)
            #expect((0.1...0.9).contains(drawn.disk.sectorGarbleProbability))
            #expect((0.1...0.9).contains(drawn.disk.killMidWriteProbability))
            #expect((0.1...0.9).contains(drawn.disk.pageEvictionProbability))
            drawn.disk.sectorGarbleProbability = 0
            drawn.disk.killMidWriteProbability = 0
            drawn.disk.pageEvictionProbability = 0
            #expect((0.1...0.9).contains(drawn.disk.shutdownProbability))
            drawn.disk.writebackNoSpaceProbability = 0
            drawn.disk.shutdownProbability = 0
            drawn.disk.readOnlyRemountProbability = 0
            drawn.disk.fsyncErrorReporting = .perFile
            drawn.disk.holdSpaceUntilUnlinkDurable = false
            #expect(drawn == ranges.draw(seed: seed))
        }
    }

    @Test func rangesDrawPerSeedWithinBoundsAndReproducibly() {
        var ranges = FaultRanges()
        ranges.tornWrite = DoubleRange(0.2, 0.4)
        ranges.capacityBytes = IntRange(1000, 2000)
        let values = (1...50).map { ranges.draw(seed: UInt64($0)) }
        #expect(values.allSatisfy { (0.2...0.4).contains($0.disk.tornWriteProbability) })
        #expect(values.allSatisfy { (1000...2000).contains($0.disk.capacityBytes ?? 0) })
        #expect(Set(values.map(\.disk.tornWriteProbability)).count > 40, "each seed draws its own value")
        #expect(values == (1...50).map { ranges.draw(seed: UInt64($0)) })
    }
}
