import Foundation
import Tidemark
import TidemarkIO

extension BenchRunner {
    func openStore(_ directory: String, _ mode: SyncMode) throws -> Store {
        try Store.open(
            at: directory, fileSystem: PosixFileSystem(), clock: SystemClock(), random: SystemRandom(),
            options: StoreOptions(syncMode: mode))
    }

    func record(_ number: Int) -> Record {
        Record(id: data.id(number), content: data.content, embedding: data.embedding(number))
    }

    /// Bytes one bench record takes in the store's log (frame header included): measured on a
    /// scratch store, so the raw loop appends exactly as much per commit.
    func measureRecordBytes() throws -> Int {
        let directory = try workDirectory("probe")
        let store = try openStore(directory, .async)
        defer { try? store.close() }
        try store.put(record(0))
        let before = try store.stats().logBytes
        let probes = 8
        for number in 1...probes { try store.put(record(number)) }
        return Int(try store.stats().logBytes - before) / probes
    }

    /// The disk's limit for durable commits: append `recordBytes`, `fdatasync`, repeat (each
    /// sync also makes the grown file size durable, as the store's appends need). With
    /// `overwrite`, the file is written and synced in full first and then overwritten in place,
    /// so each `fdatasync` carries data only (what a reused, preallocated log could reach).
    func rawSyncLoop(overwrite: Bool) throws -> BenchMeasurement {
        let path = FilePaths.join(try workDirectory(overwrite ? "raw-overwrite" : "raw"), "append.log")
        let handle = try PosixFileSystem().open(path, options: [.read, .write, .create])
        defer { try? handle.close() }
        let bytes = [UInt8](repeating: 0x5A, count: recordBytes)
        let count = settings.records
        if overwrite {
            try handle.write([UInt8](repeating: 0, count: recordBytes * count), at: 0)
            try handle.sync()
        }
        var offset: Int64 = 0
        let seconds = try measureSeconds {
            for _ in 0..<count {
                try handle.write(bytes, at: offset)
                try handle.syncData()
                offset += Int64(bytes.count)
            }
        }
        return BenchMeasurement(operations: count, seconds: seconds, bytes: offset)
    }

    /// `records` puts split over `threads` writer threads in `mode`; for `async` the final
    /// `sync()` is inside the measured time (the puts are durable when the clock stops).
    func storePuts(mode: SyncMode, threads: Int) throws -> BenchMeasurement {
        let store = try openStore(try workDirectory("store-\(mode.rawValue)-\(threads)"), mode)
        let perThread = max(1, settings.records / threads)
        let runner = self
        var seconds = try runOnThreads(threads) { thread in
            for index in 0..<perThread { try store.put(runner.record(thread * perThread + index)) }
        }
        if mode == .async { seconds += try measureSeconds { try store.sync() } }
        let stats = try store.stats()
        try store.close()
        guard stats.recordCount == perThread * threads else {
            throw BenchError("the store holds \(stats.recordCount) records after \(perThread * threads) puts")
        }
        return BenchMeasurement(operations: stats.recordCount, seconds: seconds, bytes: Int64(stats.recordCount * recordBytes))
    }

    /// Loads one store to each size in `searchRecords` (async batches), searching it at each
    /// size and reading it at the first; then, on the full store: open after a clean close
    /// (replaying the whole log), a checkpoint, and open from that checkpoint.
    func storeSearchAndRecovery() throws {
        let directory = try workDirectory("store-search")
        var store = try openStore(directory, .async)
        var loaded = 0
        for (stage, size) in settings.searchRecords.enumerated() {
            while loaded < size {
                let end = min(size, loaded + 500)
                try store.batch { batch in
                    for number in loaded..<end { try batch.put(record(number)) }
                }
                loaded = end
            }
            if stage == 0, wants("store-get") {
                progress.begin("store-get")
                var found = 0
                let seconds = try measureSeconds {
                    for read in 0..<settings.reads {
                        if try store.get(data.id(read * 7919 % size)) != nil { found += 1 }
                    }
                }
                guard found == settings.reads else { throw BenchError("the store found \(found) of \(settings.reads) reads") }
                results["store-get"] = BenchMeasurement(operations: settings.reads, seconds: seconds)
            }
            let name = "store-search-\(size)"
            guard wants(name) else { continue }
            progress.begin(name)
            var nearest: [SearchResult] = []
            let seconds = try measureSeconds {
                for query in 0..<settings.queries {
                    nearest = try store.search(embedding: data.embedding(queryNumber(query)), k: 10)
                }
            }
            guard nearest.count == min(10, size) else { throw BenchError("store search returned \(nearest.count) results") }
            results[name] = BenchMeasurement(operations: settings.queries, seconds: seconds)
        }
        guard wants("store-recovery-log") else { return try store.close() }
        let logBytes = try store.stats().logBytes
        try store.close()
        progress.begin("store-recovery-log")
        var seconds = try measureSeconds { store = try openStore(directory, .async) }
        guard try store.stats().recordCount == loaded else { throw BenchError("recovery lost records") }
        results["store-recovery-log"] = BenchMeasurement(operations: 1, seconds: seconds, bytes: logBytes)
        progress.begin("store-checkpoint")
        seconds = try measureSeconds { try store.checkpoint() }
        results["store-checkpoint"] = BenchMeasurement(operations: 1, seconds: seconds, bytes: bytesOnDisk(directory))
        try store.close()
        progress.begin("store-recovery-checkpoint")
        let checkpointBytes = bytesOnDisk(directory)
        seconds = try measureSeconds { store = try openStore(directory, .async) }
        guard try store.stats().recordCount == loaded else { throw BenchError("recovery from the checkpoint lost records") }
        results["store-recovery-checkpoint"] = BenchMeasurement(operations: 1, seconds: seconds, bytes: checkpointBytes)
        try store.close()
    }

    /// The record whose embedding query `query` uses (spread over the first stage's records).
    func queryNumber(_ query: Int) -> Int { query * 104_729 % (settings.searchRecords.first ?? 1) }
}
