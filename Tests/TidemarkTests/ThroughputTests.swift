import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// Durable puts per second on this machine's disk, one writer and sixteen, in `group` mode.
/// Prints the figures; asserts only that every put landed (timing is never asserted).
struct ThroughputTests {
    @Test func durablePutsPerSecondInGroupMode() throws {
        for (threads, perThread) in [(1, 300), (16, 100)] {
            let directory = TemporaryDirectory()
            let fileSystem = InstrumentedFileSystem()
            let clock = SystemClock()
            let store = try Store.open(
                at: directory.path, fileSystem: fileSystem, clock: clock, random: SeededRandom(seed: 7),
                options: StoreOptions(syncMode: .group))
            let syncsBefore = fileSystem.syncCount
            let started = clock.monotonicNanoseconds()
            runOnThreads(threads) { thread in
                for index in 0..<perThread {
                    try? store.put(record("t\(thread)-\(index)", [Float(index), 1, 2, 3], content: String(repeating: "x", count: 200)))
                }
            }
            let seconds = Double(clock.monotonicNanoseconds() - started) / 1e9
            let total = threads * perThread
            #expect(try store.stats().recordCount == total)
            print(String(format: "group mode, %2d writer thread(s): %d durable puts in %.3f s = %.0f puts/s, %d syncs",
                         threads, total, seconds, Double(total) / seconds, fileSystem.syncCount - syncsBefore))
            try store.close()
        }
    }
}
