import Foundation
import Testing
import TidemarkIO

@testable import Tidemark

/// Failed syncs fail-stop; a full disk rejects cleanly and keeps serving.
struct FailureTests {
    @Test func failedSyncMakesTheCommitAmbiguousAndStopsTheStore() throws {
        for mode in [SyncMode.group, .immediate] {
            let directory = TemporaryDirectory()
            let fileSystem = InstrumentedFileSystem()
            let store = try openStore(directory, fileSystem: fileSystem, options: StoreOptions(syncMode: mode))
            try store.put(record("a"))
            fileSystem.faults.withLock { $0.failingSyncs = 1 }
            let failed = try #require(throws: StoreError.self) { try store.put(record("b")) }
            #expect(failed.outcome == .ambiguous)
            #expect(failed.code == .io)
            // The next sync would succeed, but the store must not carry on as if nothing happened.
            for attempt in [{ try store.put(record("c")) }, { _ = try store.get("a") }, { try store.sync() }, { try store.checkpoint() }] {
                let error = try #require(throws: StoreError.self) { try attempt() }
                #expect(error.code == .failStopped)
                #expect(error.outcome == .rejected)
            }
            #expect(try store.stats().failStopped)
            try store.close()  // after a fail-stop close syncs and marks nothing: as if its process died
            let reopened = try openStore(directory)
            #expect(try reopened.get("a") != nil)
            #expect(try reopened.get("c") == nil)
        }
    }

    @Test func retryFailedSyncCanaryCarriesOn() throws {
        let directory = TemporaryDirectory()
        let fileSystem = InstrumentedFileSystem()
        let store = try openStore(directory, fileSystem: fileSystem, options: StoreOptions(syncMode: .group, canary: .retryFailedSync))
        fileSystem.faults.withLock { $0.failingSyncs = 1 }
        try store.put(record("b"))
        try store.put(record("c"))
        #expect(try !store.stats().failStopped)
    }

    @Test func diskFullRejectsCleanlyAndWritesResumeWhenSpaceReturns() throws {
        let directory = TemporaryDirectory()
        let fileSystem = InstrumentedFileSystem()
        let store = try openStore(directory, fileSystem: fileSystem)
        try store.put(record("a"))
        let segment = directory.file(try segmentNames(directory)[0])
        let sizeBefore = try PosixFileSystem().status(segment).size
        fileSystem.faults.withLock { $0.diskFullFor = "" }
        let error = try #require(throws: StoreError.self) { try store.put(record("b", content: String(repeating: "x", count: 500))) }
        #expect(error.code == .noSpace)
        #expect(error.outcome == .rejected)
        // The partial frame was cut back: nothing of it can ever be replayed.
        #expect(try PosixFileSystem().status(segment).size == sizeBefore)
        #expect(try store.get("a") != nil)
        #expect(try store.get("b") == nil)
        fileSystem.faults.withLock { $0.diskFullFor = nil }
        try store.put(record("c"))
        try store.close()
        let reopened = try openStore(directory)
        #expect(try reopened.allRecords().map(\.id) == ["a", "c"])
        #expect(try reopened.verify().isClean)
    }

    @Test func diskFullDuringCheckpointKeepsTheLog() throws {
        // The correct store removes segments only after the checkpoint covering them is durable;
        // the canary removes them first, so a checkpoint that fails loses data.
        for canary in [nil, StoreCanary.removeSegmentsBeforeCheckpointDurable] {
            let directory = TemporaryDirectory()
            let fileSystem = InstrumentedFileSystem()
            var options = StoreOptions(syncMode: .group, canary: canary)
            options.segmentSizeLimit = 400
            var store: Store? = try openStore(directory, fileSystem: fileSystem, options: options)
            for index in 0..<12 { try store!.put(record("r\(index)")) }
            fileSystem.faults.withLock { $0.diskFullFor = "checkpoint-" }
            let error = try #require(throws: StoreError.self) { try store!.checkpoint() }
            #expect(error.code == .noSpace)
            fileSystem.faults.withLock { $0.diskFullFor = nil }
            store = nil  // abandoned as if its process died (its LOCK goes with it)
            if canary == nil {
                #expect(try openStore(directory, options: options).stats().recordCount == 12)
            } else {
                // The segments are gone and no checkpoint covers them: recovery finds the gap
                // and refuses to open rather than serve a store missing its first records.
                let error = try #require(throws: StoreError.self) { try openStore(directory, options: options) }
                #expect(error.code == .corruption)
                #expect(error.description.contains("replay needs LSN 1 onwards"), "\(error)")
            }
        }
    }
}
