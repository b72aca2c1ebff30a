import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// The hot tier: dirty and clean records, LRU eviction of clean ones, the byte budget.
struct TierHotTests {
    private func tieredOptions(budget: Int, age: Double = 300) -> StoreOptions {
        var options = StoreOptions(syncMode: .immediate)
        options.tiers = TierOptions(hotMemoryBytes: budget, hotToColdAge: age)
        return options
    }

    private func bigRecord(_ index: Int, bytes: Int = 900) -> Record {
        Record(id: "r\(index)", content: String(repeating: Character(UnicodeScalar(UInt8(97 + index % 26))), count: bytes), embedding: [1, Float(index), 0])
    }

    @Test func cleanRecordsAreEvictedLeastRecentlyUsedFirstAndDirtyOnesNever() throws {
        let size = HotTier.size(of: bigRecord(0))
        let hot = HotTier(budget: 3 * size)
        for index in 0..<3 { hot.put(bigRecord(index), dirty: false, inCold: true, now: Int64(index)) }
        _ = hot.get("r0", now: 10)  // r0 is now the most recently used; r1 the least
        hot.put(bigRecord(3), dirty: true, now: 11)
        #expect(!hot.contains("r1") && hot.contains("r0") && hot.contains("r2"))
        #expect(hot.evictions == 1)
        #expect(hot.residentBytes <= 3 * size)
        // Dirty records fill the budget: the clean ones go, the dirty ones stay, and the tier
        // says a further dirty record needs a flush first.
        hot.put(bigRecord(4), dirty: true, now: 12)
        hot.put(bigRecord(5), dirty: true, now: 13)
        #expect(hot.dirtyCount == 3 && hot.count == 3)
        #expect(hot.wouldOverflow(adding: size))
        // After the flush they are clean, ordered by last use, and evictable.
        hot.markAllClean()
        #expect(hot.dirtyCount == 0 && !hot.wouldOverflow(adding: size))
        hot.put(bigRecord(6), dirty: true, now: 14)
        #expect(!hot.contains("r3") && hot.contains("r4") && hot.contains("r6"))
        #expect(hot.peakResidentBytes <= 3 * size)
        #expect(hot.evictIdle(since: 13) == 2)  // r4 (12) and r5 (13); r6 is dirty
        #expect(hot.count == 1)
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
        #expect(stats.coldCount > 0)  // memory pressure flushed
        #expect(try store.stats().recordCount == index)
        // Every record is still readable, through the cold tier.
        for check in stride(from: 0, to: index, by: 37) { #expect(try store.get("r\(check)") == bigRecord(check)) }
        #expect(try store.allRecords().count == index)
        #expect(try store.stats().tiers!.hotPeakBytes <= budget)
        try store.close()
    }

    @Test func sizeIsTheEncodedLength() {
        for record in [
            bigRecord(1), Record(id: "é", content: "ü", metadata: ["a": .string("b"), "n": .number(2)], expiresAt: 7),
            Record(id: "x"),
        ] {
            var writer = ByteWriter()
            RecordCoding.encode(record, into: &writer)
            #expect(HotTier.size(of: record) == writer.bytes.count)
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
