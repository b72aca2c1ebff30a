import Testing
import TidemarkIO
import TidemarkSimulatedDisk

/// Prints simulated calls per second for a write/sync-heavy loop (no timing assertion: the
/// figure depends on the machine and the build). Checks the loop's result so it is not idle.
struct SimulatedFileSystemThroughputTests {
    @Test(arguments: [false, true])
    func writeSyncLoopThroughput(recordTrace: Bool) throws {
        let fs = SimulatedFileSystem(seed: 42, faults: FaultConfiguration(writeSurvivalProbability: 0.5), recordTrace: recordTrace)
        try fs.createDirectory("/wal")
        try fs.syncDirectory("/")
        let record = [UInt8](repeating: 0x5A, count: 128)
        let rounds = 20_000
        let clock = ContinuousClock()
        let start = clock.now
        var handle = try fs.open("/wal/segment", options: [.read, .write, .create])
        var size: Int64 = 0
        for round in 0..<rounds {
            try handle.write(record, at: size)
            size += Int64(record.count)
            if round % 4 == 3 { try handle.sync() }
            if round % 5_000 == 4_999 {
                try fs.syncDirectory("/wal")
                fs.crash(.powerLoss)
                handle = try fs.open("/wal/segment", options: [.read, .write])
                size = try handle.size()
            }
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let calls = fs.callCount
        print("SimulatedFileSystem throughput (recordTrace: \(recordTrace)): \(calls) calls in \(seconds) s = \(Int(Double(calls) / seconds)) calls/s")
        // Every round ends synced, so nothing written was lost.
        #expect(size == Int64(rounds * record.count))
        #expect(calls >= rounds + rounds / 4)
        #expect(fs.trace.count == (recordTrace ? calls : 0))
    }
}
