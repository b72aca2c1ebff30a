import Foundation
import Synchronization
import Testing
import TidemarkIO

@testable import Tidemark

struct StoreTests {
    @Test func putGetDeleteSurviveReopen() throws {
        let directory = TemporaryDirectory()
        do {
            let store = try openStore(directory)
            try store.put(record("a"))
            try store.put(record("b"))
            try store.put(record("a", content: "replaced", metadata: ["topic": .string("x"), "n": .number(2)]))
            #expect(try store.delete("b"))
            #expect(try !store.delete("missing"))
            try store.close()
        }
        let store = try openStore(directory)
        #expect(try store.get("a")?.content == "replaced")
        #expect(try store.get("a")?.metadata == ["topic": .string("x"), "n": .number(2)])
        #expect(try store.get("b") == nil)
        #expect(store.recovery.framesReplayed == 4)
        #expect(throws: StoreError.self) { try store.close(); _ = try store.get("a") }
    }

    @Test func batchIsAllOrNothing() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("keep", [1, 2]))
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try store.batch { batch in
                try batch.put(record("x", [1, 1]))
                throw Abort()
            }
        }
        // A bad record anywhere rejects the whole batch, including the good ones before it.
        let error = try #require(throws: StoreError.self) {
            try store.batch { batch in
                try batch.put(record("y", [1, 1]))
                try batch.put(record("z", [1, 1, 1]))
            }
        }
        #expect(error.code == .invalidInput && error.outcome == .rejected)
        try store.batch { batch in
            try batch.put(record("p", [0, 1]))
            try batch.put(record("q", [1, 0]))
            try batch.delete("keep")
        }
        try store.close()
        let reopened = try openStore(directory)
        #expect(try reopened.allRecords().map(\.id) == ["p", "q"])
        #expect(reopened.recovery.framesReplayed == 2)
    }

    @Test func transactionReadsItsWritesAndRollsBackOnThrow() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("a"))
        struct Abort: Error {}
        #expect(throws: Abort.self) {
            try store.transaction { tx in
                try tx.delete("a")
                try tx.put(record("b"))
                #expect(try tx.get("a") == nil)
                #expect(try tx.get("b") != nil)
                throw Abort()
            }
        }
        #expect(try store.get("a") != nil)
        #expect(try store.get("b") == nil)
        let moved = try store.transaction { tx -> String in
            let old = try #require(try tx.get("a"))
            try tx.delete("a")
            try tx.put(Record(id: "b", content: old.content, embedding: old.embedding))
            return old.content
        }
        try store.close()
        let reopened = try openStore(directory)
        #expect(try reopened.get("a") == nil)
        #expect(try reopened.get("b")?.content == moved)
    }

    @Test func badInputIsRejectedWithoutChangingAnything() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("a", [1, 2, 3]))
        let cases: [(Record, String)] = [
            (record("", [1, 2, 3]), "empty"),
            (record(String(repeating: "x", count: 1025), [1, 2, 3]), "1025 bytes"),
            (record("nan", [1, .nan, 3]), "embedding[1]"),
            (record("inf", [.infinity, 2, 3]), "embedding[0]"),
            (record("dim", [1, 2]), "dimension 2"),
            (record("meta", [1, 2, 3], metadata: ["n": .number(.nan)]), "non-finite"),
        ]
        for (bad, expected) in cases {
            let error = try #require(throws: StoreError.self) { try store.put(bad) }
            #expect(error.code == .invalidInput)
            #expect(error.outcome == .rejected)
            #expect(error.message.contains(expected), "\(error.message)")
        }
        #expect(throws: StoreError.self) { try store.put(record("ttl"), ttl: -1) }
        #expect(try store.stats().lastAssignedLSN == 1)
        #expect(try store.allRecords().map(\.id) == ["a"])
    }

    @Test func ttlExpiresByTheInjectedClock() throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let store = try openStore(directory, clock: clock)
        try store.put(record("short"), ttl: 10)
        try store.put(record("forever"))
        clock.advance(seconds: 5)
        #expect(try store.get("short") != nil)
        clock.advance(seconds: 6)
        #expect(try store.get("short") == nil)
        #expect(try store.search(embedding: [1, 0, 0], k: 5).map(\.record.id) == ["forever"])
        try store.checkpoint()
        try store.close()
        let reopened = try openStore(directory, clock: clock)
        #expect(try reopened.stats().recordCount == 1)
    }

    @Test func searchRanksByEachMetricAndFilters() throws {
        let directory = TemporaryDirectory()
        let store = try openStore(directory)
        try store.put(record("east", [1, 0], metadata: ["kind": .string("a")]))
        try store.put(record("north", [0, 1], metadata: ["kind": .string("b")]))
        try store.put(record("far-east", [10, 0.5], metadata: ["kind": .string("a")]))
        try store.put(record("north-east", [1, 1], metadata: ["kind": .string("b")]))
        try store.put(Record(id: "no-vector"))
        let query: [Float] = [1, 0.1]
        #expect(try store.search(embedding: query, k: 4, metric: .cosine).map(\.record.id) == ["far-east", "east", "north-east", "north"])
        #expect(try store.search(embedding: query, k: 2, metric: .dot).map(\.record.id) == ["far-east", "north-east"])
        #expect(try store.search(embedding: query, k: 2, metric: .euclidean).map(\.record.id) == ["east", "north-east"])
        #expect(try store.search(embedding: query, k: 5, filter: ["kind": .string("b")]).map(\.record.id) == ["north-east", "north"])
        let cosine = try #require(try store.search(embedding: [2, 0], k: 1).first)
        #expect(abs(cosine.score - 1) < 1e-9)
        #expect(throws: StoreError.self) { try store.search(embedding: [1, 0, 0], k: 1) }
        #expect(throws: StoreError.self) { try store.search(embedding: [1, .nan], k: 1) }
        #expect(throws: StoreError.self) { try store.search(embedding: [1, 0], k: 0) }
    }

    @Test func groupCommitSharesSyncsAcrossSixteenThreads() throws {
        let directory = TemporaryDirectory()
        let fileSystem = InstrumentedFileSystem()
        let store = try openStore(directory, fileSystem: fileSystem, options: StoreOptions(syncMode: .group))
        let syncsBefore = fileSystem.syncCount
        let threads = 16, perThread = 40
        let failures = Mutex<[String]>([])
        runOnThreads(threads) { thread in
            for index in 0..<perThread {
                do {
                    try store.put(record("t\(thread)-\(index)", [Float(thread), Float(index), 1]))
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        let syncs = fileSystem.syncCount - syncsBefore
        let stats = try store.stats()
        #expect(stats.commitCount == threads * perThread)
        #expect(stats.lastDurableLSN == stats.lastAssignedLSN)
        #expect(syncs < threads * perThread, "\(syncs) syncs for \(threads * perThread) commits")
        try store.close()
        let reopened = try openStore(directory)
        #expect(try reopened.stats().recordCount == threads * perThread)
        for thread in 0..<threads {
            for index in 0..<perThread { #expect(try reopened.get("t\(thread)-\(index)")?.embedding == [Float(thread), Float(index), 1]) }
        }
    }

    @Test func immediateModeSyncsEveryCommitAndAsyncOnlyOnRequest() throws {
        // Immediate: 5 log syncs, and the first records its LSN in a new `SYNCED` (fdatasync,
        // and the directory sync that makes the new name durable).
        for (mode, expectedSyncs) in [(SyncMode.immediate, 5 + 2), (.async, 0)] {
            let directory = TemporaryDirectory()
            let fileSystem = InstrumentedFileSystem()
            let store = try openStore(directory, fileSystem: fileSystem, options: StoreOptions(syncMode: mode))
            let before = fileSystem.syncCount
            for index in 0..<5 { try store.put(record("r\(index)")) }
            #expect(fileSystem.syncCount - before == expectedSyncs, "\(mode)")
            let stats = try store.stats()
            #expect(stats.lastDurableLSN == (mode == .async ? 0 : 5))
            try store.sync()
            #expect(try store.stats().lastDurableLSN == 5)
        }
    }

    @Test func acknowledgeBeforeSyncCanaryReturnsUnsynced() throws {
        let directory = TemporaryDirectory()
        let fileSystem = InstrumentedFileSystem()
        let store = try openStore(directory, fileSystem: fileSystem, options: StoreOptions(syncMode: .immediate, canary: .acknowledgeBeforeSync))
        let before = fileSystem.syncCount
        try store.put(record("a"))
        #expect(fileSystem.syncCount == before)
        #expect(try store.stats().lastDurableLSN == 0)
    }
}

struct MaintenanceRunnerTests {
    @Test func runnerMakesAsyncCommitsDurable() throws {
        let directory = TemporaryDirectory()
        let clock = SystemClock()
        let store = try openStore(directory, clock: clock, options: StoreOptions(syncMode: .async))
        let runner = MaintenanceRunner(store: store, clock: clock, intervalNanoseconds: 1_000_000)
        try store.put(record("a"))
        // Liveness, not timing: wait (bounded) for the runner's sync to cover the put.
        var durable = false
        for _ in 0..<60_000 where !durable {  // at least a minute: fsyncs are slow on a busy disk
            durable = try store.stats().lastDurableLSN == 1
            if !durable { clock.sleep(nanoseconds: 1_000_000) }
        }
        #expect(durable)
        runner.stop()
        #expect(runner.error == nil)
        try store.close()
    }
}
