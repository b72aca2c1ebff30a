import Foundation
import Testing
import TidemarkIO
@testable import TidemarkSimulatedDisk

/// Kill points, trace hashing, decision records and their suppression, configuration decoding.
struct SimulatedFileSystemDeterminismTests {
    /// A fixed little workload with faults that draw on every write, sync and crash.
    static func workload(_ fs: SimulatedFileSystem) {
        try? fs.createDirectory("/wal")
        try? fs.syncDirectory("/")
        for round in 0..<5 {
            guard let handle = try? fs.open("/wal/segment-\(round % 2)", options: [.read, .write, .create]) else { continue }
            for index in 0..<8 {
                try? handle.write([UInt8](repeating: UInt8(index), count: 700), at: Int64(index * 700))
            }
            try? handle.sync()
            _ = try? handle.read(at: 0, count: 100)
            try? fs.syncDirectory("/wal")
            fs.crash(round % 2 == 0 ? .powerLoss : .processKill)
        }
    }

    static let noisy = FaultConfiguration(
        writeSurvivalProbability: 0.5, directoryOperationSurvivalProbability: 0.5, tornWriteProbability: 0.5,
        garbageProbability: 0.3, unsafeAppendProbability: 0.3, bitRotPerCrashProbability: 0.5,
        bitRotPerFileProbability: 0.5, earlyWritebackProbability: 0.1, fsyncErrorProbability: 0.2,
        writeErrorProbability: 0.05, readErrorProbability: 0.1, misdirectedWriteProbability: 0.05)

    /// Reading a file into a reused buffer makes the calls a plain `readFile` makes: the same
    /// bytes and the same trace hash, read faults included.
    @Test func readFileIntoABufferTracesAsReadFile() throws {
        func run(_ read: (SimulatedFileSystem) throws -> [UInt8]) throws -> ([UInt8]?, UInt64) {
            let fs = SimulatedFileSystem(seed: 9, faults: FaultConfiguration(readErrorProbability: 0.3))
            try fs.writeFileAtomically("/segment", (0..<5_000).map { UInt8(truncatingIfNeeded: $0) })
            var last: [UInt8]?
            for _ in 0..<6 { last = (try? read(fs)) ?? last }
            return (last, fs.traceHash)
        }
        var buffer: [UInt8] = []
        let plain = try run { try $0.readFile("/segment") }
        let reused = try run { fs in
            try fs.readFile("/segment", into: &buffer)
            return buffer
        }
        #expect(plain.0 == reused.0 && plain.0?.count == 5_000)
        #expect(plain.1 == reused.1)
    }

    // MARK: Kill points

    @Test func killPointFiresAtExactlyTheNthCall() throws {
        let fs = SimulatedFileSystem(seed: 1)
        fs.killPoint = KillPoint(afterCalls: 5)
        let handle = try fs.open("/f", options: .createNew)     // call 0
        for index in 0..<4 { try handle.write([UInt8(index)], at: Int64(index)) }  // calls 1...4
        #expect(fs.callCount == 5)
        #expect(!fs.isHalted)
        do {
            try handle.sync()                                    // call 5: killed, not performed
            Issue.record("the sixth call should be killed")
        } catch let error as FileSystemError {
            #expect(error.code == .io)
            #expect(error.message.hasPrefix("simulated crash"))
        }
        #expect(fs.isHalted)
        #expect(fs.callCount == 5)
        #expect(fs.pendingWriteCount() == 4, "the killed sync did not happen")
        #expect(throws: FileSystemError.self) { try fs.status("/f") }
        #expect(fs.callCount == 5, "calls while halted are not performed")
        #expect(fs.trace.last?.result == .killed)

        fs.crash(.processKill)
        #expect(!fs.isHalted)
        #expect(fs.killPoint == nil, "a kill point fires once")
        #expect(try fs.status("/f").size == 4)
        #expect(throws: FileSystemError.self) { try handle.size() }
    }

    @Test func killPointMatchesOperationPathAndOccurrence() throws {
        let fs = SimulatedFileSystem(seed: 2)
        fs.killPoint = KillPoint(operation: .sync, pathContains: "wal", occurrence: 2)
        let data = try fs.open("/data", options: .createNew)
        let wal = try fs.open("/wal.log", options: .createNew)
        try data.sync()
        try wal.sync()        // first matching call
        try data.sync()
        try wal.syncData()    // another operation: not matched
        try wal.write([1], at: 0)
        #expect(!fs.isHalted)
        #expect(throws: FileSystemError.self) { try wal.sync() }   // second matching call
        #expect(fs.isHalted)
        let killed = try #require(fs.trace.last)
        #expect(killed.operation == .sync && killed.path == "/wal.log" && killed.result == .killed)
    }

    @Test func killPointMatchesRenameDestination() throws {
        let fs = SimulatedFileSystem(seed: 3)
        try Disk.durableFile(fs, "/checkpoint.tmp", [1])
        fs.killPoint = KillPoint(operation: .rename, pathContains: "checkpoint.json")
        #expect(throws: FileSystemError.self) { try fs.rename("/checkpoint.tmp", to: "/checkpoint.json") }
        fs.crash(.powerLoss)
        #expect(fs.exists("/checkpoint.tmp") && !fs.exists("/checkpoint.json"))
    }

    // MARK: Trace hash and decisions

    @Test func sameSeedGivesTheSameTraceHashAndDifferentSeedsDiffer() {
        var hashes: Set<UInt64> = []
        for seed in UInt64(0)..<8 {
            let first = SimulatedFileSystem(seed: seed, faults: Self.noisy)
            let second = SimulatedFileSystem(seed: seed, faults: Self.noisy, recordTrace: false)
            Self.workload(first)
            Self.workload(second)
            #expect(first.traceHash == second.traceHash, "seed \(seed): recording the trace must not change the hash")
            #expect(first.decisions == second.decisions)
            #expect(!first.decisions.isEmpty)
            #expect(second.trace.isEmpty)
            hashes.insert(first.traceHash)
        }
        #expect(hashes.count == 8, "different seeds take different decisions")
    }

    @Test func traceHashSeesResultsAndDataNotOnlyCalls() throws {
        func run(_ bytes: [UInt8]) throws -> UInt64 {
            let fs = SimulatedFileSystem(seed: 9)
            let handle = try fs.open("/f", options: .createNew)
            try handle.write(bytes, at: 0)
            return fs.traceHash
        }
        #expect(try run([1, 2, 3]) != run([1, 2, 4]))
    }

    @Test func traceHasherIsPlainFNV1a() {
        // FNV-1a 64 test vectors: a per-process seeded hash could never match these.
        var empty = TraceHasher()
        #expect(empty.value == 0xCBF2_9CE4_8422_2325)
        var a = TraceHasher()
        a.combine(byte: UInt8(ascii: "a"))
        #expect(a.value == 0xAF63_DC4C_8601_EC8C)
        var foobar = TraceHasher()
        for byte in "foobar".utf8 { foobar.combine(byte: byte) }
        #expect(foobar.value == 0x8594_4171_F739_67E8)
        empty.combine(byte: 0)
        #expect(empty.value != 0xCBF2_9CE4_8422_2325)
    }

    @Test func decisionsRecordKindPathCallAndOutcome() throws {
        let fs = SimulatedFileSystem(seed: 4, faults: FaultConfiguration(fsyncErrorProbability: 1))
        let handle = try fs.open("/f", options: .createNew)
        try handle.write([1], at: 0)
        #expect(throws: FileSystemError.self) { try handle.sync() }
        let decision = try #require(fs.decisions.first)
        #expect(decision.index == 0 && decision.kind == .fsyncError && decision.path == "/f" && decision.callIndex == 2)
        #expect(!decision.suppressed)
        #expect(fs.trace[2].decisions == [0])
    }

    @Test func suppressedDecisionsRemoveAFault() throws {
        func run(suppressing: Set<Int>) -> (SimulatedFileSystem, [Bool]) {
            let fs = SimulatedFileSystem(seed: 5, faults: FaultConfiguration(fsyncErrorProbability: 1))
            fs.suppressedDecisions = suppressing
            var synced: [Bool] = []
            for name in ["/a", "/b"] {
                let handle = try? fs.open(name, options: .createNew)
                try? handle?.write([1], at: 0)
                synced.append((try? handle?.sync()) != nil)
            }
            return (fs, synced)
        }
        let (faulty, faultySyncs) = run(suppressing: [])
        #expect(faultySyncs == [false, false])
        #expect(faulty.decisions.map(\.suppressed) == [false, false])
        let (shrunk, shrunkSyncs) = run(suppressing: [0])
        #expect(shrunkSyncs == [true, false], "only the suppressed fault is gone")
        #expect(shrunk.decisions.map(\.suppressed) == [true, false], "indices stay put")
        #expect(shrunk.traceHash != faulty.traceHash)
    }

    @Test func suppressingACrashDecisionKeepsTheWrite() throws {
        func run(suppressing: Set<Int>) throws -> [UInt8]? {
            let fs = SimulatedFileSystem(seed: 6)
            try Disk.durableFile(fs, "/f", [0, 0])
            try Disk.unsyncedWrite(fs, "/f", [1], at: 0)
            try Disk.unsyncedWrite(fs, "/f", [2], at: 1)
            fs.suppressedDecisions = suppressing
            let report = fs.crash(.powerLoss)
            #expect(fs.decisions.count == 2)
            #expect(report.writes.map(\.fate) == suppressing.sorted().reduce(into: [.dropped, .dropped]) { $0[$1] = .survived })
            return Disk.read(fs, "/f")
        }
        #expect(try run(suppressing: []) == [0, 0])
        #expect(try run(suppressing: [1]) == [0, 2])
        #expect(try run(suppressing: [0, 1]) == [1, 2])
    }

    // MARK: Configuration and reports as data

    @Test func faultConfigurationDecodesPartialDocumentsAndRejectsBadValues() throws {
        let decoded = try JSONDecoder().decode(
            FaultConfiguration.self, from: Data(#"{"tornWriteProbability": 0.25, "sectorSize": 4096, "reorder": "orderedPrefix"}"#.utf8))
        #expect(decoded == FaultConfiguration(reorder: .orderedPrefix, tornWriteProbability: 0.25, sectorSize: 4096))
        #expect(try JSONDecoder().decode(FaultConfiguration.self, from: Data("{}".utf8)) == .none)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(FaultConfiguration.self, from: Data(#"{"fsyncErrorProbability": 1.5}"#.utf8))
        }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(FaultConfiguration.self, from: Data(#"{"sectorSize": 1000}"#.utf8))
        }
        let roundTrip = try JSONDecoder().decode(FaultConfiguration.self, from: JSONEncoder().encode(Self.noisy))
        #expect(roundTrip == Self.noisy)
        let later = FaultConfiguration(
            fsyncErrorReporting: .errseq, writebackNoSpaceProbability: 0.1, shutdownProbability: 0.2,
            readOnlyRemountProbability: 0.3, holdSpaceUntilUnlinkDurable: true)
        #expect(try JSONDecoder().decode(FaultConfiguration.self, from: JSONEncoder().encode(later)) == later)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(FaultConfiguration.self, from: Data(#"{"shutdownProbability": 2}"#.utf8))
        }
        let point = try JSONDecoder().decode(KillPoint.self, from: Data(#"{"operation": "rename"}"#.utf8))
        #expect(point == KillPoint(operation: .rename))
    }

    @Test func crashReportsRoundTripThroughJSON() throws {
        let fs = SimulatedFileSystem(seed: 7)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 1, count: 4096))
        fs.faults = FaultConfiguration(tornWriteProbability: 1, garbageProbability: 0.5, bitRotPerCrashProbability: 1, bitRotPerFileProbability: 1)
        try Disk.unsyncedWrite(fs, "/f", [UInt8](repeating: 2, count: 4096), at: 2048)
        try fs.createDirectory("/new")
        let report = fs.crash(.powerLoss)
        #expect(report.writes.first?.fate == .torn && !report.directoryOperations.isEmpty && !report.bitFlips.isEmpty)
        let decoded = try JSONDecoder().decode(CrashReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
        let trace = try JSONDecoder().decode([TraceEvent].self, from: JSONEncoder().encode(fs.trace))
        #expect(trace == fs.trace)
    }

    @Test func crashSummaryNamesEveryFate() throws {
        let fs = SimulatedFileSystem(seed: 10)
        try Disk.durableFile(fs, "/f", [UInt8](repeating: 1, count: 2048))
        fs.faults = FaultConfiguration(tornWriteProbability: 1)
        try Disk.unsyncedWrite(fs, "/f", [UInt8](repeating: 2, count: 1024), at: 0)
        try fs.rename("/f", to: "/g")
        let report = fs.crash(.powerLoss)
        let kept = report.writes[0].keptSectors.map(String.init).joined(separator: ",")
        #expect(report.summary == """
            powerLoss #1 at call \(report.callIndex), 0 handles invalidated
              write /f [0, +1024) from call 6: torn (kept sectors \(kept))
              rename /f -> /g from call 8: lost
              vanished files: /g
              reappeared: /f
            """)
    }

    @Test func concurrentCallersAreSerialised() async throws {
        let fs = SimulatedFileSystem(seed: 8)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    let handle = try fs.open("/w\(worker)", options: .createNew)
                    for index in 0..<200 { try handle.write([UInt8(worker)], at: Int64(index)) }
                    try handle.sync()
                }
            }
            try await group.waitForAll()
        }
        #expect(fs.callCount == 4 * 202)
        for worker in 0..<4 { #expect(try fs.readFile("/w\(worker)") == [UInt8](repeating: UInt8(worker), count: 200)) }
    }
}
