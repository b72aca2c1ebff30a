import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// Scale by design: what an open, a checkpoint and `stats` cost must not grow with the number
/// of records, and recovery stays within the hot budget. Each test compares the file-system
/// traffic (calls, bytes) of the same action on a small and a ten times larger store; none times
/// anything.
struct TierScaleTests {
    private func options(budget: Int = 1 << 20) -> StoreOptions {
        var options = StoreOptions(syncMode: .immediate)
        options.tiers = TierOptions(hotMemoryBytes: budget, hotToColdAge: 300)
        return options
    }

    private func record(_ index: Int) -> Record {
        Record(
            id: "doc-\(index)", content: String(repeating: "x", count: 500),
            embedding: (0..<8).map { Float(($0 + index) % 11) - 5 }, metadata: ["n": .number(Double(index % 3))])
    }

    /// A store with `count` records flushed to the cold tier and one more put after the flush,
    /// closed cleanly.
    private func makeStore(_ directory: TemporaryDirectory, count: Int, budget: Int = 1 << 20) throws {
        let store = try openStore(directory, options: options(budget: budget))
        try store.batch { batch in for index in 0..<count { try batch.put(record(index)) } }
        try store.checkpoint()
        try store.put(record(count))
        try store.close()
    }

    @Test func openReadsAndWritesTheSameWhateverTheRecordCount() throws {
        // A small budget: the old design loaded the whole hot tier from the checkpoint at open
        // and rewrote what did not fit as spill files.
        var opened: [InstrumentedFileSystem.Traffic] = []
        var stores: [Store] = []
        for count in [200, 2000] {
            let directory = TemporaryDirectory()
            try makeStore(directory, count: count, budget: 64 << 10)
            let fileSystem = InstrumentedFileSystem()
            let (store, traffic) = try fileSystem.measure { try openStore(directory, fileSystem: fileSystem, options: options(budget: 64 << 10)) }
            #expect(store.recovery.framesReplayed == 1)  // only the put after the flush
            #expect(try store.stats().recordCount == count + 1)
            opened.append(traffic)
            stores.append(store)
        }
        // 1,800 more records are about 1 MB more data; the open's traffic must not see them.
        #expect(opened[1].bytesRead <= opened[0].bytesRead + 16 << 10, "\(opened)")
        #expect(opened[1].bytesWritten <= opened[0].bytesWritten + 16 << 10, "\(opened)")
        #expect(opened[1].calls <= opened[0].calls + 8, "\(opened)")
        for store in stores { try store.close() }
    }

    @Test func checkpointAfterOnePutWritesTheSameWhateverTheRecordCount() throws {
        var written: [Int] = []
        for count in [200, 2000] {
            let directory = TemporaryDirectory()
            let fileSystem = InstrumentedFileSystem()
            let store = try openStore(directory, fileSystem: fileSystem, options: options())
            try store.batch { batch in for index in 0..<count { try batch.put(record(index)) } }
            try store.checkpoint()
            try store.put(record(count))
            let (_, traffic) = try fileSystem.measure { try store.checkpoint() }
            written.append(traffic.bytesWritten)
            try store.close()
        }
        // The old design wrote every hot record into each checkpoint (about 1 MB more here).
        #expect(written[1] <= written[0] + 48 << 10, "\(written)")
    }

    @Test func statsAndGetReadTheSameWhateverTheRecordCount() throws {
        var reads: [Int] = []
        for count in [200, 2000] {
            let directory = TemporaryDirectory()
            try makeStore(directory, count: count)
            let fileSystem = InstrumentedFileSystem()
            let store = try openStore(directory, fileSystem: fileSystem, options: options())
            let (stats, traffic) = try fileSystem.measure { () throws -> StoreStats in
                #expect(try store.get("doc-\(count / 2)") == record(count / 2))
                return try store.stats()
            }
            #expect(stats.recordCount == count + 1)
            #expect(stats.tiers?.coldCount == count)
            reads.append(traffic.bytesRead)
            try store.close()
        }
        // The old design counted records by reading every cold row.
        #expect(reads[1] <= reads[0] + 48 << 10, "\(reads)")
    }

    @Test func recoveryOfALargeLogStaysWithinTheHotBudget() throws {
        let directory = TemporaryDirectory()
        let budget = 32 << 10
        let size = HotTier.size(of: record(0))
        let count = 10 * budget / size
        do {
            let store = try openStore(directory, options: options(budget: budget))
            for index in 0..<count { try store.put(record(index)) }  // no maintenance, no checkpoint call
            #expect(try store.stats().tiers!.hotPeakBytes <= budget)
            // dropped without close: a crash
        }
        let store = try openStore(directory, options: options(budget: budget))
        // Memory pressure flushed as the log grew, so the log after the last flush holds at most
        // a budget's worth of records: that is all recovery replays and holds.
        #expect(store.recovery.framesReplayed * size <= budget, "\(store.recovery.framesReplayed) frames replayed")
        let stats = try store.stats()
        #expect(stats.tiers!.hotPeakBytes <= budget)
        #expect(stats.recordCount == count)
        for index in stride(from: 0, to: count, by: 23) { #expect(try store.get("doc-\(index)") == record(index)) }
        try store.close()
    }

    @Test func exactSearchAcrossTiersMatchesASearchOfAllRecords() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let store = try openStore(directory, clock: clock, options: options(budget: 8 << 10))
        var expected = StoreState()
        var random = SeededRandom(seed: 7)
        for step in 0..<400 {
            let index = Int(random.next() % 150)
            if random.next() % 5 == 0 {
                if try store.delete("doc-\(index)") { expected.apply([.delete(id: "doc-\(index)")]) }
            } else {
                var value = record(index)
                value.embedding = (0..<8).map { _ in Float(Int(random.next() % 21) - 10) }
                try store.put(value)
                expected.apply([.put(value)])
            }
            if step % 97 == 0 { try store.checkpoint() }
        }
        #expect(try store.stats().tiers!.coldCount > 0)
        #expect(try store.stats().recordCount == expected.records.count)
        for metric in SearchMetric.allCases {
            for query in [[Float](repeating: 1, count: 8), (0..<8).map { Float($0) - 3 }] {
                let tiered = try store.search(embedding: query, k: 7, metric: metric)
                let all = try Search.nearest(in: expected, to: query, k: 7, metric: metric, filter: [:], now: clock.wallNanoseconds())
                #expect(tiered.map(\.record) == all.map(\.record), "\(metric)")
                let filter: [String: JSONValue] = ["n": .number(1)]
                let filtered = try store.search(embedding: query, k: 5, metric: metric, filter: filter)
                let allFiltered = try Search.nearest(in: expected, to: query, k: 5, metric: metric, filter: filter, now: clock.wallNanoseconds())
                #expect(filtered.map(\.record) == allFiltered.map(\.record), "\(metric) filtered")
            }
        }
        try store.close()
    }
}
