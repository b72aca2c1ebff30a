import Foundation
import TidemarkIO
// Being renamed TidemarkSimulatedDisk (issue 12 §3's layout); only SimulatedFileSystem is used.
import TidemarkSimulatedDisk

extension BenchRunner {
    /// Simulated file-system calls per second for a write/sync-heavy loop with a power loss every
    /// 5,000 rounds, with and without the trace recorded. Checks the loop's result so it is not idle.
    func simulatorCalls(recordTrace: Bool) throws -> BenchMeasurement {
        let fileSystem = SimulatedFileSystem(
            seed: 42, faults: FaultConfiguration(writeSurvivalProbability: 0.5), recordTrace: recordTrace)
        try fileSystem.createDirectory("/wal")
        try fileSystem.syncDirectory("/")
        let record = [UInt8](repeating: 0x5A, count: 128)
        let rounds = settings.simulatorRounds
        var size: Int64 = 0
        let seconds = try measureSeconds {
            var handle = try fileSystem.open("/wal/segment", options: [.read, .write, .create])
            for round in 0..<rounds {
                try handle.write(record, at: size)
                size += Int64(record.count)
                if round % 4 == 3 { try handle.sync() }
                if round % 5_000 == 4_999 {
                    try fileSystem.syncDirectory("/wal")
                    fileSystem.crash(.powerLoss)
                    handle = try fileSystem.open("/wal/segment", options: [.read, .write])
                    size = try handle.size()
                }
            }
        }
        // Every crash follows a sync, so nothing written was lost.
        guard size == Int64(rounds * record.count) else {
            throw BenchError("the simulated log holds \(size) bytes after \(rounds) writes of \(record.count)")
        }
        return BenchMeasurement(operations: fileSystem.callCount, seconds: seconds)
    }
}
