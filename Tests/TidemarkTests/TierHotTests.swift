import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// The hot tier: LRU order, the byte budget, spill files (format, cleanup, names).
struct TierHotTests {
    private func tieredOptions(budget: Int, age: Double = 300) -> StoreOptions {
        var options = StoreOptions(syncMode: .immediate)
        options.tiers = TierOptions(hotMemoryBytes: budget, hotToColdAge: age)
        return options
    }

    private func bigRecord(_ index: Int, bytes: Int = 900) -> Record {
        Record(id: "r\(index)", content: String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: bytes), embedding: [1, Float(index), 0])
    }

    @Test func leastRecentlyUsedSpillsFirstAndReloadsOnAccess() throws {
        let directory = TemporaryDirectory()
        let size = HotTier.size(of: bigRecord(0))
        let hot = HotTier(budget: 3 * size, fileSystem: PosixFileSystem(), storeDirectory: directory.path)
        for index in 0..<3 { hot.put(bigRecord(index), now: Int64(index)) }
        #expect(hot.spilledCount == 0)
        _ = try hot.get("r0", now: 10)  // r0 is now the most recently used; r1 the least
        hot.put(bigRecord(3), now: 11)
        #expect(hot.spilledCount == 1)
        #expect(hot.residentBytes <= 3 * size)
        let spilled = try PosixFileSystem().listDirectory(hot.spillDirectory)
        #expect(spilled == [SpillFile.name(number: 0)])
        // r1 went to the file; reading it brings it back (and pushes out the next least recent).
        #expect(try hot.get("r1", now: 12) == bigRecord(1))
        #expect(hot.spillReloads == 1)
        #expect(hot.residentBytes <= 3 * size)
        #expect(try hot.peek("r0") == bigRecord(0))
    }

    @Test func hotBytesStayWithinBudgetUnderTenTimesTheBudget() throws {
        let directory = TemporaryDirectory()
        let budget = 64 << 10
        let store = try openStore(directory, options: tieredOptions(budget: budget))
        var written = 0
        var index = 0
        while written < 10 * budget {
            let record = bigRecord(index)
            try store.put(record)
            written += HotTier.size(of: record)
            index += 1
        }
        let stats = try #require(try store.stats().tiers)
        #expect(stats.hotPeakBytes <= budget)
        #expect(Double(stats.hotPeakBytes) >= 0.9 * Double(budget))  // the budget is used, not just respected
        #expect(stats.hotBytes <= budget)
        #expect(stats.spilledCount > 0)
        #expect(stats.hotCount == index)
        // Every record is still readable, through the spill files.
        for check in stride(from: 0, to: index, by: 37) { #expect(try store.get("r\(check)") == bigRecord(check)) }
        #expect(try store.allRecords().count == index)
        #expect(try store.stats().tiers!.hotPeakBytes <= budget)
        try store.close()
    }

    @Test func spillFilesAreRemovedAtOpenAndNeverTrusted() throws {
        let directory = TemporaryDirectory()
        let spillDirectory = directory.file(SpillFile.directoryName)
        do {
            let store = try openStore(directory, options: tieredOptions(budget: 2048))
            for index in 0..<20 { try store.put(bigRecord(index)) }
            #expect(try PosixFileSystem().listDirectory(spillDirectory).count > 5)
            // Dropped without close: a crash.
        }
        // A stray file that is not ours stays; ours go, and every record still reads back.
        try PosixFileSystem().writeFileAtomically(FilePaths.join(spillDirectory, "notes.txt"), Array("keep".utf8))
        let store = try openStore(directory, options: tieredOptions(budget: 1 << 20))
        #expect(try PosixFileSystem().listDirectory(spillDirectory) == ["notes.txt"])
        for index in 0..<20 { #expect(try store.get("r\(index)") == bigRecord(index)) }
        try store.close()
    }

    @Test func corruptSpillFileIsDetectedNotServed() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory, options: tieredOptions(budget: 2048))
        for index in 0..<10 { try store.put(bigRecord(index)) }
        let spillDirectory = directory.file(SpillFile.directoryName)
        for name in try PosixFileSystem().listDirectory(spillDirectory) {
            try flipBit(FilePaths.join(spillDirectory, name), at: 100)
        }
        // r0 was the least recently used: spilled.
        let error = try #require(throws: StoreError.self) { try store.get("r0") }
        #expect(error.code == .corruption)
        #expect(error.message.contains("checksum"))
        #expect(error.path?.hasPrefix(spillDirectory) == true)
    }

    @Test func spillFileFormatChecksEverything() throws {
        let record = bigRecord(3, bytes: 40)
        let name = SpillFile.name(number: 7)
        let bytes = SpillFile.encode(record, name: name)
        #expect(try SpillFile.decode(bytes, name: name, path: "p", expectedID: "r3") == record)
        func rejects(_ damaged: [UInt8], name: String = name, id: String = "r3", _ fragment: String) {
            let error = #expect(throws: StoreError.self) { try SpillFile.decode(damaged, name: name, path: "p", expectedID: id) }
            #expect(error?.code == .corruption)
            #expect(error?.message.contains(fragment) == true, "\(error?.message ?? "")")
        }
        rejects(Array(bytes.prefix(10)), "shorter than its header")
        rejects([0x58] + bytes.dropFirst(), "bad magic")
        rejects(Array(bytes.dropLast()), "length field")
        var flipped = bytes
        flipped[bytes.count - 3] ^= 1
        rejects(flipped, "checksum")
        rejects(bytes, name: SpillFile.name(number: 8), "checksum")  // a file under another name
        var versioned = bytes
        versioned[8] = 9
        rejects(versioned, "version")
    }

    @Test func spillNamesCannotLeaveTheSpillDirectory() {
        #expect(SpillFile.isValidName(SpillFile.name(number: 0)))
        #expect(SpillFile.isValidName(SpillFile.name(number: .max)))
        for bad in ["../MANIFEST", "spill-../../etc/pw", "spill-0000000000000000/..", "spill-000000000000000G",
                    "spill-00000000000000000", "spill-", "/spill-0000000000000000", "..", "", "spill-000000000000000A"] {
            #expect(!SpillFile.isValidName(bad), "\(bad)")
        }
    }

    @Test func accessHintRoundTripsAndRejectsDamage() {
        let times: [String: Int64] = ["a": 5, "b/c": -2, "é": 1 << 60]
        let bytes = TieredState.encodeAccessHint(times)
        #expect(TieredState.decodeAccessHint(bytes) == times)
        var damaged = bytes
        damaged[12] ^= 1
        #expect(TieredState.decodeAccessHint(damaged) == nil)
        #expect(TieredState.decodeAccessHint(Array(bytes.dropLast(5))) == nil)
    }
}
