import Testing
import TidemarkIO
import TidemarkSimulatedDisk

@testable import TidemarkSimulation

/// A refusal is right only after damage of its kind struck: every fault that makes a call fail,
/// at once or at a later sync, counts as an I/O error that struck.
struct DiskDamageTests {
    @Test(arguments: [
        (FaultKind.writebackError, FaultConfiguration(writebackErrorProbability: 1)),
        (.fsyncError, FaultConfiguration(fsyncErrorProbability: 1)),
    ])
    func anInjectedErrorCountsAsAnIOErrorThatStruck(kind: FaultKind, faults: FaultConfiguration) throws {
        let disk = SimulatedFileSystem(seed: 1, faults: faults)
        let file = try disk.open("/f", options: [.readWrite, .create])
        try file.write(Array(repeating: 7, count: 100), at: 0)
        _ = try? file.sync()
        #expect(disk.decisions.contains { $0.kind == kind })
        #expect(DiskDamage(faults: faults, disk: disk).ioErrorFired)
    }

    @Test func noInjectedErrorIsNoIOError() throws {
        let disk = SimulatedFileSystem(seed: 1)
        let file = try disk.open("/f", options: [.readWrite, .create])
        try file.write(Array(repeating: 7, count: 100), at: 0)
        try file.sync()
        #expect(!DiskDamage(faults: .none, disk: disk).ioErrorFired)
    }
}
